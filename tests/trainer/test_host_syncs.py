"""At most one host sync per optimizer step on the step path: on a GPU every read of a
device value (`.item()`, `bool()`, `float()`, `.tolist()`) stalls the host until the GPU
catches up, so the loop reads the step's loss and finiteness together, once."""

from __future__ import annotations

import collections
import traceback

import pytest
import torch

from tests.trainer.conftest import demo_config, in_process, merged

pytestmark = pytest.mark.slow

READS = ("item", "tolist", "__bool__", "__float__", "__int__", "numpy")
# A foreach AdamW (a torch without fused CPU kernels) reads its step counter on the host; the
# fused one keeps it on the device.
ALLOWED = ("torch/optim/",)


@pytest.mark.parametrize(
    "extra", [{}, {"training": {"gradient_accumulation_steps": 2, "scale_weight_norms": 1.0, "max_steps": 3}}]
)
def test_one_host_read_per_optimizer_step(tmp_path, dataset, cache_env, monkeypatch, extra):
    sections = {"training": {"epochs": 1, "max_steps": 4}, "saving": {"every_n_epochs": 0}, "samples": {"every_n_epochs": 0}}
    config = demo_config(dataset, **merged(sections, extra))
    _, loop = in_process(tmp_path, config, "syncs")
    reads = collections.Counter()
    for name in READS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            frames = [f.filename for f in traceback.extract_stack()[:-1]]
            if not any(allowed in frame for frame in frames[-3:] for allowed in ALLOWED):
                reads[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    outcome = loop.run()
    monkeypatch.undo()
    assert outcome.step == config.training.max_steps
    assert sum(reads.values()) <= outcome.step, reads
