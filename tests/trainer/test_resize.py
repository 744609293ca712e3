from __future__ import annotations

import json
import math
import warnings

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from stylora_tui.trainer.resize import rank_for, resize_module
from tests.conftest import run_cli
from tests.trainer.conftest import demo_config, prepare, trainer

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("shape", [((8, 40), (30, 8)), ((8, 12, 3, 3), (20, 8, 1, 1))])
def test_truncation_error_is_what_svd_predicts(shape):
    torch.manual_seed(0)
    down, up = torch.randn(*shape[0], dtype=torch.float64), torch.randn(*shape[1], dtype=torch.float64)
    weight = up.reshape(up.shape[0], 8) @ down.reshape(8, -1)
    singular = torch.linalg.svdvals(weight)
    new_down, new_up, new_alpha, old_rank, new_rank, kept = resize_module(down, up, 4.0, 3, None)
    assert new_down.shape[0] == 3 and new_down.shape[1:] == down.shape[1:], "the kernel stays on the down side"
    assert new_up.shape == (up.shape[0], 3, *up.shape[2:])
    assert new_alpha == pytest.approx(4.0 / 8 * 3), "alpha/rank is unchanged"
    approx = new_up.reshape(up.shape[0], 3) @ new_down.reshape(3, -1)
    assert torch.linalg.norm(weight - approx) == pytest.approx(math.sqrt(float((singular[3:] ** 2).sum())), rel=1e-9)
    assert kept == pytest.approx(math.sqrt(float((singular[:3] ** 2).sum() / (singular**2).sum())))


def test_fro_picks_the_smallest_rank_reaching_p():
    singular = torch.tensor([3.0, 2.0, 1.0, 0.5])
    total = float((singular**2).sum())
    assert rank_for(singular, None, math.sqrt(9 / total)) == 1
    assert rank_for(singular, None, math.sqrt(9 / total) + 1e-6) == 2
    assert rank_for(singular, None, 1.0) == 4
    assert rank_for(singular, 2, None) == 2 and rank_for(singular, 99, None) == 4


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_cache):
    import os
    import shutil

    from stylora_tui.paths import examples_dir

    root = tmp_path_factory.mktemp("resize")
    shutil.copytree(examples_dir() / "demo-style", root / "data")
    env = {"XDG_CACHE_HOME": str(shared_cache)}
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(shared_cache)
    try:
        run = prepare(root, demo_config(root / "data", network={"dim": 8, "alpha": 4, "conv_dim": 8, "conv_alpha": 4}), "big")
    finally:
        if previous is None:
            os.environ.pop("XDG_CACHE_HOME")
        else:
            os.environ["XDG_CACHE_HOME"] = previous
    assert trainer(run, env).returncode == 0
    return run.output / "big.safetensors", env


@pytest.mark.parametrize("args", [("--rank", "2"), ("--fro", "0.9")])
def test_resized_file_is_smaller_and_loads_strictly(trained, tmp_path, args):
    source, env = trained
    out = tmp_path / "small.safetensors"
    proc = run_cli("resize", str(source), "-o", str(out), *args, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Frobenius norm kept" in proc.stdout and "MiB" in proc.stdout
    assert out.stat().st_size < source.stat().st_size
    with safe_open(str(out), "pt") as handle:
        metadata = handle.metadata()
    original = load_file(str(source))
    small = load_file(str(out))
    assert original.keys() == small.keys()
    if args[0] == "--rank":
        assert metadata["ss_network_dim"] == "2" and metadata["ss_network_alpha"] == "1"
        assert json.loads(metadata["ss_network_args"])["conv_dim"] == "2"
        assert all(small[k].shape[0] == 2 for k in small if k.endswith("lora_down.weight"))
    else:
        assert metadata["ss_network_dim"] == "Dynamic"
    with safe_open(str(source), "pt") as handle:
        assert metadata["sshs_model_hash"] != handle.metadata()["sshs_model_hash"]
    # Each module's effect up @ down * alpha / rank is the original's, truncated as SVD says.
    for key in [k for k in small if k.endswith(".alpha")]:
        stem = key[: -len(".alpha")]

        def effect(state, stem=stem, key=key):
            down, up = state[f"{stem}.lora_down.weight"].double(), state[f"{stem}.lora_up.weight"].double()
            rank = down.shape[0]
            return up.reshape(up.shape[0], rank) @ down.reshape(rank, -1) * float(state[key]) / rank

        before, after = effect(original), effect(small)
        singular = torch.linalg.svdvals(before)
        kept = small[f"{stem}.lora_down.weight"].shape[0]
        predicted = float((singular[kept:] ** 2).sum().sqrt())
        assert float(torch.linalg.norm(before - after)) <= predicted * 1.01 + 1e-3 * float(singular[0])
    if args[0] == "--fro":
        assert len({float(small[k]) for k in small if k.endswith(".alpha")}) == 1, "one alpha: no per-module alpha pattern"

    import os

    from diffusers import StableDiffusionXLPipeline

    from stylora_tui.trainer.demo_model import demo_model_dir

    os.environ["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]
    pipe = StableDiffusionXLPipeline.from_pretrained(demo_model_dir(), local_files_only=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipe.load_lora_weights(str(out))
    assert not [w for w in caught if "lora" in str(w.message).lower()]
    injected = sum(
        1
        for model in (pipe.unet, pipe.text_encoder, pipe.text_encoder_2)
        for _, m in model.named_modules()
        if hasattr(m, "lora_A") and m.lora_A
    )
    assert injected == len(small) // 3


def test_resize_refuses_bad_input(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(b"junk")
    proc = run_cli("resize", str(tmp_path / "x.safetensors"), "-o", str(tmp_path / "y.safetensors"), "--rank", "4")
    assert proc.returncode == 1 and "not a readable" in proc.stderr
    proc = run_cli("resize", str(tmp_path / "x.safetensors"), "-o", str(tmp_path / "y.safetensors"))
    assert proc.returncode == 2


def test_resize_refuses_to_grow_a_file_or_replace_one_silently(trained, tmp_path):
    source, env = trained
    grown = run_cli("resize", str(source), "-o", str(tmp_path / "grown.safetensors"), "--rank", "8", env=env)
    assert (
        grown.returncode == 1
        and "not below the file's rank (8)" in grown.stderr
        and not (tmp_path / "grown.safetensors").exists()
    )
    target = tmp_path / "small.safetensors"
    target.write_bytes(b"mine")
    refused = run_cli("resize", str(source), "-o", str(target), "--rank", "2", env=env)
    assert refused.returncode == 1 and "already exists" in refused.stderr and target.read_bytes() == b"mine"
    forced = run_cli("resize", str(source), "-o", str(target), "--rank", "2", "--force", env=env)
    assert forced.returncode == 0 and target.read_bytes() != b"mine"


def test_an_all_zero_module_is_said_to_be_zero_not_zero_percent_kept(tmp_path):
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(0)
    state = {
        "lora_unet_a.lora_down.weight": torch.randn(4, 16, generator=generator),
        "lora_unet_a.lora_up.weight": torch.randn(8, 4, generator=generator),
        "lora_unet_a.alpha": torch.tensor(2.0),
        "lora_unet_b.lora_down.weight": torch.zeros(4, 16),
        "lora_unet_b.lora_up.weight": torch.zeros(8, 4),
        "lora_unet_b.alpha": torch.tensor(2.0),
    }
    save_file(state, str(tmp_path / "in.safetensors"))
    proc = run_cli(
        "resize", str(tmp_path / "in.safetensors"), "-o", str(tmp_path / "out.safetensors"), "--rank", "2", "--verbose"
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 module(s) are all zero" in proc.stdout and "all zero" in proc.stdout
    assert "0.0%" not in proc.stdout and "lowest" in proc.stdout and "lora_unet_a" in proc.stdout.split("lowest")[1]
