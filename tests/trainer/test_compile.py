"""training.compile: the UNet's transformer blocks and the text encoders' layers compiled
(regional compilation) train the adapter eager training does, to float tolerance; "auto" and
false leave them eager."""

from __future__ import annotations

import pytest
import torch

from stylora_tui.config.build import build_config
from stylora_tui.trainer.session import REPEATED_BLOCKS, compiles
from tests.trainer.conftest import demo_config, in_process

QUIET = {"saving": {"every_n_epochs": 0}, "samples": {"every_n_epochs": 0}}


def _compiler_works() -> str:
    """Why torch.compile cannot run here ("" when it can): inductor needs a C++ compiler."""
    try:
        torch.compile(lambda x: x * 2 + 1)(torch.ones(3))
    except Exception as exc:  # any backend failure means: no compiler here
        return f"torch.compile does not work here: {type(exc).__name__}: {str(exc)[:200]}"
    return ""


def test_compile_is_off_unless_asked_for():
    assert compiles(build_config({"training": {"compile": True}})) is True
    assert compiles(build_config({"training": {"compile": False}})) is False
    assert compiles(build_config({"training": {"compile": "auto"}})) is False, "auto: off until a GPU measures the gain"


@pytest.mark.slow
def test_compiled_blocks_train_what_eager_blocks_train(tmp_path, dataset, cache_env):
    reason = _compiler_works()
    if reason:
        pytest.skip(reason)
    weights, compiled_blocks = {}, {}
    for compile_ in (False, True):
        name = "compiled" if compile_ else "eager"
        config = demo_config(dataset, training={"epochs": 1, "max_steps": 3, "compile": compile_}, **QUIET)
        session, loop = in_process(tmp_path / name, config, name)
        base = session.base
        compiled_blocks[compile_] = {
            name: sum(1 for m in model.modules() if type(m).__name__ in REPEATED_BLOCKS and m._compiled_call_impl)
            for name, model in (("unet", base.unet), ("te1", base.text_encoder), ("te2", base.text_encoder_2))
        }
        assert loop.run().step == 3
        weights[compile_] = {k: v.detach().clone() for k, v in session.adapter.state_dict().items()}
    assert not any(compiled_blocks[False].values()) and all(compiled_blocks[True].values()), compiled_blocks
    assert weights[True].keys() == weights[False].keys()
    moved = [k for k in weights[True] if k.endswith("lora_up.weight") and weights[True][k].abs().sum() > 0]
    assert moved, "three steps moved the adapter"
    # Fused kernels round differently, and AdamW turns a near-zero gradient's rounding into
    # a step of up to lr: elementwise to a tenth of lr (1e-3), and close as a whole.
    for key in weights[True]:
        torch.testing.assert_close(weights[True][key], weights[False][key], rtol=1e-3, atol=1e-4)
    flat = {c: torch.cat([w.flatten() for w in weights[c].values()]) for c in weights}
    drift = ((flat[True] - flat[False]).norm() / flat[False].norm()).item()
    assert drift <= 1e-5, drift


def test_frozen_text_encoders_are_left_eager():
    from types import SimpleNamespace

    from stylora_tui.trainer.session import compile_blocks

    def model(block: str) -> torch.nn.Module:
        return torch.nn.Sequential(type(block, (torch.nn.Linear,), {})(2, 2))

    for train_te in (True, False):
        base = SimpleNamespace(
            unet=model("BasicTransformerBlock"), text_encoder=model("CLIPEncoderLayer"), text_encoder_2=model("CLIPEncoderLayer")
        )
        compile_blocks(base, train_te)  # lazy: nothing compiles before a call
        compiled = [bool(m[0]._compiled_call_impl) for m in (base.unet, base.text_encoder, base.text_encoder_2)]
        assert compiled == [True, train_te, train_te]
