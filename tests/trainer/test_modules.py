from __future__ import annotations

import json

import pytest

from stylora_tui.config.build import build_config
from stylora_tui.forecast.size import estimate
from stylora_tui.model.kohya_names import unet_key
from tests.conftest import run_cli

CASES = [
    ({"network": {"preset": "full"}}, 1052, {"unet": 788, "te1": 72, "te2": 192}),
    ({"network": {"preset": "attn-mlp"}}, 986, {"unet": 722, "te1": 72, "te2": 192}),
    ({"network": {"preset": "unet-transformer-only", "train_text_encoders": False}}, 722, {"unet": 722}),
]


@pytest.mark.parametrize("edits, count, parts", CASES)
def test_plan_lists_exactly_kohyas_locon_modules(edits, count, parts):
    args = [f"--set=network.{k}={json.dumps(v) if isinstance(v, str) else str(v).lower()}" for k, v in edits["network"].items()]
    proc = run_cli("plan", "--json", *args)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["module_count"] == count and data["by_component"] == parts
    modules = set(data["modules"])
    assert len(modules) == count
    assert unet_key("down_blocks.2.attentions.1.transformer_blocks.9.ff.net.2") in modules
    assert "lora_te2_text_model_encoder_layers_31_self_attn_out_proj" in modules or "te2" not in parts
    convs = {m for m in modules if m.endswith(("_in_layers_2", "_out_layers_3", "_op", "_2_conv"))}
    assert len(convs) == (38 if count == 1052 else 0)
    config = build_config(edits)
    quick = estimate(config)
    assert (quick.modules, quick.trainable_params, quick.output_bytes) == (count, data["trainable_params"], data["output_bytes"])


def test_plan_on_the_demo_with_steps():
    proc = run_cli("plan", "--model", "demo", "--preset", "demo", "--json")
    data = json.loads(proc.stdout)
    assert data["steps"]["total"] == 32 and data["module_count"] == 221
    assert (
        estimate(
            build_config({"model": {"path": "demo"}, "network": {"dim": 4, "alpha": 2, "conv_dim": 4, "conv_alpha": 2}})
        ).trainable_params
        == data["trainable_params"]
    )


def test_plan_on_a_narrow_single_file_checkpoint_builds_its_group_norms(tmp_path):
    # GroupNorm's group count is in no tensor shape: a checkpoint whose widths are not
    # multiples of SDXL's 32 groups (the demo: a 16-wide VAE) used to crash plan with a raw
    # ValueError from torch.
    single = tmp_path / "demo.safetensors"
    made = run_cli("demo-model", str(tmp_path / "demo"), "--single-file", str(single))
    assert made.returncode == 0, made.stderr
    folder = json.loads(run_cli("plan", "--json", "--model", str(tmp_path / "demo")).stdout)
    result = run_cli("plan", "--json", "--model", str(single))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["module_count"] == folder["module_count"] and data["modules"] == folder["modules"]
