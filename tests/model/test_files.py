from __future__ import annotations

import struct

import pytest

from stylora_tui.errors import ModelError
from stylora_tui.model.files import check_model_path
from tests.conftest import SDXL, fake_safetensors


def test_sdxl_single_file_passes(tmp_path):
    path = fake_safetensors(tmp_path / "animagine.safetensors", SDXL)
    assert check_model_path(str(path)) == str(path)


@pytest.mark.parametrize(
    "keys, words",
    [
        (["lora_unet_input_blocks_4_1_proj_in.lora_down.weight"], "LoRA"),
        (["encoder.conv_in.weight", "decoder.conv_out.weight"], "VAE"),
        (
            ["model.diffusion_model.input_blocks.0.0.weight", "cond_stage_model.transformer.text_model.final_layer_norm.weight"],
            "SD 1.x/2.x",
        ),
        (["something.else"], "not a single-file"),
    ],
)
def test_wrong_kinds_of_file_are_named(tmp_path, keys, words):
    with pytest.raises(ModelError) as info:
        check_model_path(str(fake_safetensors(tmp_path / "x.safetensors", keys)))
    assert words in info.value.message


def test_junk_and_pickles(tmp_path):
    (tmp_path / "junk.safetensors").write_text("junk")
    with pytest.raises(ModelError) as info:
        check_model_path(str(tmp_path / "junk.safetensors"))
    assert "not a valid .safetensors" in info.value.message
    (tmp_path / "m.ckpt").write_bytes(b"x")
    with pytest.raises(ModelError) as info:
        check_model_path(str(tmp_path / "m.ckpt"))
    assert "pickle" in info.value.message
    with pytest.raises(ModelError):
        check_model_path(str(tmp_path / "missing.safetensors"))
    (tmp_path / "folder").mkdir()
    with pytest.raises(ModelError) as info:
        check_model_path(str(tmp_path / "folder"))
    assert "unet" in info.value.message


@pytest.mark.parametrize(
    "header, words", [(b"42", "damaged .safetensors header"), (b"[" * 5000 + b"]" * 5000, "damaged"), (b'{"a": ', "damaged")]
)
def test_hostile_headers_are_one_line_errors(tmp_path, header, words):
    path = tmp_path / "m.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(ModelError) as info:
        check_model_path(str(path))
    assert words in info.value.message


def test_a_renamed_pickle_and_a_unet_alone_are_named_for_what_they_are(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(ModelError) as info:
        check_model_path(str(tmp_path / "model.safetensors"))
    assert "is a pickle" in info.value.message
    unet_only = fake_safetensors(
        tmp_path / "unet.safetensors", ["model.diffusion_model.label_emb.0.0.weight", "model.diffusion_model.out.2.weight"]
    )
    with pytest.raises(ModelError) as info:
        check_model_path(str(unet_only))
    assert "SDXL UNet alone" in info.value.message and "SD 1.x" not in info.value.message


def test_a_bad_vae_is_refused_before_launch(tmp_path):
    from stylora_tui.model.files import check_vae_path

    lora = fake_safetensors(tmp_path / "style.safetensors", ["lora_unet_x.lora_down.weight"])
    for path, words in (
        (tmp_path / "missing.safetensors", "does not exist"),
        (lora, "is not a VAE"),
        (tmp_path / "vae.pt", "pickle"),
    ):
        if path.suffix == ".pt":
            path.write_bytes(b"x")
        with pytest.raises(ModelError) as info:
            check_vae_path(str(path))
        assert words in info.value.message
    check_vae_path(str(fake_safetensors(tmp_path / "sdxl_vae.safetensors", ["decoder.conv_in.weight", "encoder.conv_in.weight"])))


def test_a_v_pred_name_without_markers_asks_for_an_explicit_choice(tmp_path):
    from stylora_tui.model.files import resolve_prediction

    path = fake_safetensors(tmp_path / "noobaiXLVpred_v10.safetensors", SDXL)
    with pytest.raises(ModelError) as info:
        resolve_prediction(str(path), "auto", "auto")
    assert "no v_pred marker" in info.value.message and "model.prediction_type=v_prediction" in info.value.hint
    chosen = resolve_prediction(str(path), "v_prediction", True)
    assert (chosen.type, chosen.zero_terminal_snr, chosen.source) == ("v_prediction", True, "set in the config")
    assert resolve_prediction(str(path), "epsilon", "auto").type == "epsilon"
    marked = fake_safetensors(tmp_path / "noobai-v-pred-marked.safetensors", [*SDXL, "v_pred", "ztsnr"])
    assert resolve_prediction(str(marked), "auto", "auto").type == "v_prediction"
    plain = fake_safetensors(tmp_path / "noobaiXL_eps11.safetensors", SDXL)
    assert resolve_prediction(str(plain), "auto", "auto").type == "epsilon"


def test_a_known_base_carries_its_prediction_type_without_markers(tmp_path):
    """`--model noobai-xl-vpred-1.0` resolves to a file in the hub cache: the model card's
    v-prediction + ZTSNR holds even when the file has no marker keys."""
    from stylora_tui.model.files import resolve_prediction

    snapshot = tmp_path / "hub" / "models--Laxhar--noobai-XL-Vpred-1.0" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    path = fake_safetensors(snapshot / "NoobAI-XL-Vpred-v1.0.safetensors", SDXL)
    found = resolve_prediction(str(path), "auto", "auto")
    assert (found.type, found.zero_terminal_snr) == ("v_prediction", True) and "known base" in found.source
    eps_snapshot = tmp_path / "hub" / "models--Laxhar--noobai-XL-1.1" / "snapshots" / "abc123"
    eps_snapshot.mkdir(parents=True)
    eps = fake_safetensors(eps_snapshot / "NoobAI-XL-v1.1.safetensors", SDXL)
    assert resolve_prediction(str(eps), "auto", "auto").type == "epsilon"
