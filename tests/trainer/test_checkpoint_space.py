"""The free space a checkpoint asks for is what the newest one really took, plus a stated
margin: after space is freed a resume goes on; with too little it is refused saying why."""

from __future__ import annotations

import shutil
from collections import namedtuple

import pytest

from stylora_tui.errors import StyloraError
from stylora_tui.trainer import checkpoint as ckpt
from stylora_tui.trainer import saves as saves_module
from tests.trainer.conftest import demo_config, in_process

pytestmark = pytest.mark.slow

Usage = namedtuple("Usage", "total used free")


def test_a_checkpoint_asks_for_what_the_last_one_took_plus_a_margin(tmp_path, dataset, cache_env, monkeypatch):
    session, loop = in_process(tmp_path, demo_config(dataset), "space")
    first = loop.saves.checkpoint(ckpt.Position(1, 1, 1, 0.0))
    took = ckpt.bytes_on_disk(first)
    needed, why = ckpt.space_needed(session.run.checkpoints, session.adapter)
    assert needed == took + took // 10 + (1 << 20) and "as step-000001 took" in why and "plus 10 %" in why
    assert needed < 2 * ckpt.estimated_bytes(session.adapter)  # what was asked before
    real = shutil.disk_usage
    monkeypatch.setattr(saves_module.shutil, "disk_usage", lambda path: Usage(*real(path)[:2], needed + 1))
    assert loop.saves.checkpoint(ckpt.Position(2, 1, 2, 0.0)) is not None  # just enough is enough
    monkeypatch.setattr(saves_module.shutil, "disk_usage", lambda path: Usage(*real(path)[:2], needed // 2))
    with pytest.raises(StyloraError) as info:
        loop.saves.checkpoint(ckpt.Position(3, 1, 3, 0.0))
    assert "MiB needed" in info.value.message and "as step-000002 took" in info.value.message
