from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

from stylora_tui.config.build import build_config
from stylora_tui.errors import KohyaImportError
from stylora_tui.interop.kohya_export import export_sd_scripts
from stylora_tui.interop.kohya_import import import_kohya
from stylora_tui.interop.kohya_import_toml import import_to_toml
from stylora_tui.interop.kohya_values import parse_optimizer_args
from tests.conftest import FIXTURES, run_cli

GUI_PRESETS = sorted((FIXTURES / "kohya_ss").glob("*.json"))
REFUSED = {
    "SDXL - 1 image LoRA v1.0.json": "LoKr",
    "SDXL - LoHA AI_Characters v1.0.json": "LoHa",
    "SDXL - LoKR v1.0.json": "LoKr",
}


def test_locon_preset_imports_with_everything_intact():
    result = import_kohya(FIXTURES / "kohya" / "sdxl-locon-style.json")
    config = build_config(result.data)
    assert (config.network.algo, config.network.preset) == ("locon", "full")
    assert (config.network.dim, config.network.alpha, config.network.conv_dim, config.network.conv_alpha) == (64, 32, 64, 32)
    assert config.captions.keep_tokens == 1 and config.captions.shuffle
    assert config.captions.max_token_length == 225
    assert config.scheduler.name == "cosine" and config.scheduler.warmup_ratio == pytest.approx(0.05)
    assert config.training.scale_weight_norms == 1.0
    assert config.optimizer.name == "AdamW8bit" and config.optimizer.weight_decay == 0.01
    assert config.optimizer.args == {"betas": [0.9, 0.99]}
    assert config.training.epochs == 150 and config.saving.every_n_epochs == 10
    assert config.resolution == (1024, 1536)
    assert (config.optimizer.unet_lr, config.optimizer.text_encoder_lr) == (1e-4, 5e-5)
    assert result.unmapped == []


@pytest.mark.parametrize("path", GUI_PRESETS, ids=lambda p: p.name)
def test_every_gui_fixture_imports_or_is_refused_clearly(path, tmp_path):
    out = tmp_path / "out.toml"
    proc = run_cli("import-kohya", str(path), "-o", str(out))
    if path.name in REFUSED:
        assert proc.returncode == 1
        assert REFUSED[path.name] in proc.stderr and "Traceback" not in proc.stderr
        assert not out.exists()
    else:
        assert proc.returncode == 0, proc.stderr
        config = build_config(tomllib.loads(out.read_text()))
        assert config.network.algo == "lora"


def test_prodigy_arguments_and_unet_only_flag():
    result = import_kohya(FIXTURES / "kohya_ss" / "SDXL - LoRA kudou-reira prodigy v4.0.json")
    config = build_config(result.data)
    assert config.optimizer.name == "Prodigy" and config.optimizer.weight_decay == 0.45
    assert config.optimizer.args == {"decouple": True, "d_coef": 2, "use_bias_correction": True, "safeguard_warmup": True}
    assert config.network.train_text_encoders is False
    assert config.captions.keep_tokens == 2 and config.training.seed == 1337
    # Dropped arguments are listed, never silently lost.
    assert any("CosineAnnealingLR" in str(v) for _, v, _ in result.unmapped)


def test_warmup_percent_and_constant_schedule():
    result = import_kohya(FIXTURES / "kohya_ss" / "locon-dadaptation-sdxl.json")
    config = build_config(result.data)
    assert config.scheduler.name == "constant_with_warmup" and config.scheduler.warmup_ratio == pytest.approx(0.08)
    assert config.optimizer.name == "Adafactor" and config.optimizer.args["relative_step"] is False
    assert [k for k, _, _ in result.unmapped] == ["conv_dim", "conv_alpha", "caption_extension"]


def test_imported_toml_lists_unmapped_keys(tmp_path):
    result = import_kohya(FIXTURES / "kohya_ss" / "SDXL - LoRA kudou-reira prodigy v4.0.json")
    text = import_to_toml(result)
    assert "Not carried over" in text and "CosineAnnealingLR" in text
    build_config(tomllib.loads(text))


def test_unsupported_optimizer_refused(tmp_path):
    path = tmp_path / "lion.json"
    path.write_text('{"LoRA_type": "Standard", "optimizer": "Lion"}')
    with pytest.raises(KohyaImportError) as info:
        import_kohya(path)
    assert "Lion" in info.value.message


def test_not_json_is_a_clear_error(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("not json")
    proc = run_cli("import-kohya", str(path), "-o", str(tmp_path / "o.toml"))
    assert proc.returncode == 1 and "not a kohya_ss JSON preset" in proc.stderr


def test_optimizer_args_forms():
    assert parse_optimizer_args('"d0=1e-5" "decouple=True"') == {"d0": 1e-5, "decouple": True}
    assert parse_optimizer_args("betas=0.9,0.99 eps=1e-8") == {"betas": [0.9, 0.99], "eps": 1e-8}


def test_export_reproduces_run_for_sd_scripts(tmp_path):
    dataset = tmp_path / "data"
    (dataset / "4_hokusai").mkdir(parents=True)
    (dataset / "2_extra").mkdir()
    config = build_config(
        {
            "model": {"family": "pony", "path": "/models/pony.safetensors"},
            "dataset": {"path": str(dataset)},
            "captions": {"trigger": "hokusaistyle"},
        }
    )
    train, data = export_sd_scripts(config, "run-03", tmp_path / "out")
    assert train["network_module"] == "lycoris.kohya"
    assert train["network_args"] == ["algo=locon", "preset=full", "conv_dim=64", "conv_alpha=32"]
    assert train["optimizer_args"] == ["weight_decay=0.01"] and train["lr_warmup_steps"] == 0.05
    subsets = data["datasets"][0]["subsets"]
    assert [(Path(s["image_dir"]).name, s["num_repeats"]) for s in subsets] == [("2_extra", 2), ("4_hokusai", 4)]
    assert subsets[0]["caption_prefix"] == "hokusaistyle, score_9, score_8_up, score_7_up, source_anime, "
    assert data["general"]["keep_tokens"] == 5


def test_export_command_writes_two_files(tmp_path):
    config_path = tmp_path / "my.toml"
    config_path.write_text('schema_version = 1\n[model]\npath = "/m.safetensors"\n')
    proc = run_cli("export-kohya", str(config_path), "-o", str(tmp_path / "k"))
    assert proc.returncode == 0, proc.stderr
    train = tomllib.loads((tmp_path / "k" / "my-config.toml").read_text())
    dataset = tomllib.loads((tmp_path / "k" / "my-dataset.toml").read_text())
    assert train["max_train_epochs"] == 150 and dataset["datasets"][0]["resolution"] == [1024, 1024]


@pytest.mark.parametrize(
    "change",
    [
        {"LoRA_type": ["LyCORIS/LoCon"]},
        {"LyCORIS_preset": ["full"]},
        {"optimizer": {"a": 1}},
        {"caption_extension": 5},
        {"network_dim": [64]},
    ],
)
def test_odd_value_types_are_one_line_errors(tmp_path, change):
    import json

    data = {**json.loads((FIXTURES / "kohya" / "sdxl-locon-style.json").read_text()), **change}
    (tmp_path / "odd.json").write_text(json.dumps(data))
    proc = run_cli("import-kohya", str(tmp_path / "odd.json"), "-o", str(tmp_path / "out.toml"))
    assert proc.returncode == 1 and proc.stderr.startswith("error:") and "Traceback" not in proc.stderr, proc.stderr


def test_export_never_writes_into_the_runs_output_and_never_doubles_the_trigger(tmp_path):
    from stylora_tui.interop.kohya_export import write_export

    data = tmp_path / "data"
    data.mkdir()
    for i, text in enumerate(["mystyle, 1girl", "mystyle, solo"]):
        (data / f"{i}.txt").write_text(text)
    config = build_config({"dataset": {"path": str(data)}, "captions": {"trigger": "mystyle"}, "model": {"family": "pony"}})
    written = write_export(config, "run-01", tmp_path / "export dir", tmp_path / "export dir" / "sd-scripts-output")
    train = tomllib.loads(written[0].read_text())
    dataset = tomllib.loads(written[1].read_text())
    assert train["output_name"] == "run-01-sd-scripts" and "sd-scripts-output" in train["output_dir"]
    assert dataset["datasets"][0]["subsets"][0]["caption_prefix"] == "score_9, score_8_up, score_7_up, source_anime, "


def test_export_reads_auto_prediction_from_the_base_and_writes_a_local_model_path(tmp_path):
    """`prediction_type = "auto"` with a v-prediction base: sd-scripts is told v (else it
    trains epsilon); a known base or hub id is written as the file it downloaded to."""
    from tests.conftest import SDXL, fake_safetensors

    vpred = fake_safetensors(tmp_path / "merge.safetensors", [*SDXL, "v_pred", "ztsnr"])
    config_path = tmp_path / "vpred.toml"
    config_path.write_text(f'schema_version = 1\n[model]\npath = "{vpred}"\nprediction_type = "auto"\n')
    proc = run_cli("export-kohya", str(config_path), "-o", str(tmp_path / "k"))
    assert proc.returncode == 0, proc.stderr
    train = tomllib.loads((tmp_path / "k" / "vpred-config.toml").read_text())
    assert train["v_parameterization"] is True and train["zero_terminal_snr"] is True

    hf = tmp_path / "hf"
    snapshot = hf / "hub" / "models--Laxhar--noobai-XL-Vpred-1.0" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    file = fake_safetensors(snapshot / "NoobAI-XL-Vpred-v1.0.safetensors", SDXL)  # no markers: the card says v
    (hf / "hub" / "models--Laxhar--noobai-XL-Vpred-1.0" / "refs").mkdir()
    (hf / "hub" / "models--Laxhar--noobai-XL-Vpred-1.0" / "refs" / "main").write_text("a" * 40)
    known = tmp_path / "known.toml"
    known.write_text('schema_version = 1\n[model]\npath = "noobai-xl-vpred-1.0"\n')
    env = {"HF_HOME": str(hf), "HF_HUB_OFFLINE": "1"}
    proc = run_cli("export-kohya", str(known), "-o", str(tmp_path / "k"), env=env)
    assert proc.returncode == 0, proc.stderr
    train = tomllib.loads((tmp_path / "k" / "known-config.toml").read_text())
    assert train["pretrained_model_name_or_path"] == str(file)
    assert train["v_parameterization"] is True and train["zero_terminal_snr"] is True
    absent = tmp_path / "absent.toml"
    absent.write_text('schema_version = 1\n[model]\npath = "org/not-downloaded"\n')
    proc = run_cli("export-kohya", str(absent), "-o", str(tmp_path / "k"), env=env)
    assert proc.returncode == 1 and "is not downloaded here" in proc.stderr and "Traceback" not in proc.stderr


def test_export_says_what_is_missing_and_notes_the_trigger_only_where_some_captions_lack_it(tmp_path):
    empty = tmp_path / "empty.toml"
    empty.write_text("schema_version = 1\n")
    proc = run_cli("export-kohya", str(empty), "-o", str(tmp_path / "k"))
    assert proc.returncode == 0, proc.stderr
    assert "Train with sd-scripts" not in proc.stdout and "not ready to train yet" in proc.stdout
    assert "no base model" in proc.stdout and "no dataset" in proc.stdout

    none_have = tmp_path / "none"
    mixed = tmp_path / "mixed"
    for folder, texts in ((none_have, ["1girl", "solo"]), (mixed, ["mystyle, 1girl", "solo"])):
        folder.mkdir()
        for i, text in enumerate(texts):
            (folder / f"{i}.txt").write_text(text)
    for folder, noted in ((none_have, False), (mixed, True)):
        config = tmp_path / f"{folder.name}.toml"
        config.write_text(
            f'schema_version = 1\n[model]\npath = "/m.safetensors"\nprediction_type = "epsilon"\n'
            f'[dataset]\npath = "{folder}"\n[captions]\ntrigger = "mystyle"\n'
        )
        proc = run_cli("export-kohya", str(config), "-o", str(tmp_path / "k"))
        assert proc.returncode == 0, proc.stderr
        assert ("1 of 2 caption(s)" in proc.stdout) is noted, proc.stdout
        assert "Train with sd-scripts" in proc.stdout


def test_control_characters_in_keys_and_values_are_written_out_not_a_traceback(tmp_path):
    import json

    data = json.loads((FIXTURES / "kohya" / "sdxl-locon-style.json").read_text())
    data["odd\x07key\nwith a line break"] = "value\x1b[31m"
    data["caption_extension"] = ".txt-no"
    (tmp_path / "ctrl.json").write_text(json.dumps(data))
    proc = run_cli("import-kohya", str(tmp_path / "ctrl.json"), "-o", str(tmp_path / "ctrl.toml"))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "\\x07" in proc.stdout
    written = (tmp_path / "ctrl.toml").read_text()
    parsed = tomllib.loads(written)  # still valid TOML: the odd key lives in a comment, written out
    assert parsed["dataset"].get("caption_extension", ".txt") == ".txt"
    assert "odd\\x07key\\x0awith a line break" in written and "caption_extension" in proc.stdout


def test_an_sd15_preset_says_so_and_leaves_its_model_and_resolution_out(tmp_path):
    import json

    data = json.loads((FIXTURES / "kohya" / "sdxl-locon-style.json").read_text())
    data.update({"sdxl": False, "pretrained_model_name_or_path": "runwayml/stable-diffusion-v1-5", "max_resolution": "512,512"})
    (tmp_path / "sd15.json").write_text(json.dumps(data))
    proc = run_cli("import-kohya", str(tmp_path / "sd15.json"), "-o", str(tmp_path / "sd15.toml"), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["warnings"] and "SD 1.x/2.x" in result["warnings"][0] and "warning:" in proc.stderr
    assert "path" not in result["config"].get("model", {}) and "resolution_px" not in result["config"]["dataset"]
    assert {u["key"] for u in result["unmapped"]} >= {"pretrained_model_name_or_path", "max_resolution"}
    assert "WARNING: this preset was made for SD 1.x/2.x" in (tmp_path / "sd15.toml").read_text()
    # Without an sdxl key, the model's name tells.
    data.pop("sdxl")
    (tmp_path / "old.json").write_text(json.dumps(data))
    old = run_cli("import-kohya", str(tmp_path / "old.json"), "-o", str(tmp_path / "old.toml"), "--json")
    assert json.loads(old.stdout)["warnings"]
    sdxl = run_cli("import-kohya", str(FIXTURES / "kohya" / "sdxl-locon-style.json"), "-o", str(tmp_path / "x.toml"), "--json")
    assert json.loads(sdxl.stdout)["warnings"] == []
