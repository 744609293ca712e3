from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stylora_tui.config.build import build_config, parse_override
from stylora_tui.config.schema import Config, all_keys
from stylora_tui.config.toml_io import config_to_dict, config_to_toml, parse_toml
from stylora_tui.errors import ConfigError


def codes(exc: ConfigError) -> list[str]:
    return [p.code for p in exc.problems]


def test_defaults_are_the_practice():
    config = build_config()
    assert config.network.algo == "locon" and config.network.preset == "full"
    assert (config.network.dim, config.network.alpha) == (64, 32.0)
    assert config.scheduler.name == "cosine" and config.scheduler.warmup_ratio > 0
    assert config.training.gradient_checkpointing and config.training.scale_weight_norms == 1.0
    assert config.optimizer.weight_decay == 0.01
    assert config.captions.keep_tokens == 1 and config.captions.shuffle


def test_misspelt_key_gets_did_you_mean():
    with pytest.raises(ConfigError) as info:
        build_config({"network": {"dimm": 32}})
    assert info.value.problems[0].code == "config-unknown-key"
    assert "network.dim" in info.value.hint


def test_key_in_wrong_section_points_to_the_right_one():
    with pytest.raises(ConfigError) as info:
        build_config({"training": {"conv_alpha": 8}})
    assert "network.conv_alpha" in info.value.problems[0].hint


def test_misspelt_section():
    with pytest.raises(ConfigError) as info:
        build_config({"netwrok": {"dim": 32}})
    assert "[network]" in info.value.problems[0].hint


def test_all_problems_reported_at_once():
    with pytest.raises(ConfigError) as info:
        build_config(
            {
                "network": {"dim": 0, "algo": "loha"},
                "training": {"epochs": "ten", "mixed_precision": "fp8"},
                "dataset": {"resolution_px": 1000},
            }
        )
    found = codes(info.value)
    assert len(found) == 5
    assert found.count("config-range") == 2 and found.count("config-choice") == 2 and "config-type" in found
    assert info.value.message.startswith("5 config problems:") and info.value.message.count("\n  config: ") == 5


def test_choice_error_suggests_nearest():
    with pytest.raises(ConfigError) as info:
        build_config({"optimizer": {"name": "adamw8bit"}})
    assert "AdamW8bit" in info.value.problems[0].hint


def test_alpha_above_dim_is_refused():
    with pytest.raises(ConfigError) as info:
        build_config({"network": {"dim": 16, "alpha": 32}})
    assert codes(info.value) == ["config-alpha"]
    assert "alpha = 8" in info.value.hint


def test_warmup_must_be_shorter_than_the_run():
    with pytest.raises(ConfigError) as info:
        build_config({"scheduler": {"warmup_steps": 500, "warmup_ratio": 0}}, total_steps=400)
    assert codes(info.value) == ["config-warmup"]
    build_config({"scheduler": {"warmup_steps": 100, "warmup_ratio": 0}}, total_steps=400)
    with pytest.raises(ConfigError):
        build_config({"scheduler": {"warmup_steps": 50, "warmup_ratio": 0}, "training": {"max_steps": 50}})


def test_warmup_steps_and_ratio_conflict():
    with pytest.raises(ConfigError) as info:
        build_config({"scheduler": {"warmup_steps": 10, "warmup_ratio": 0.1}})
    assert codes(info.value) == ["config-conflict"]


def test_transformer_only_preset_cannot_train_text_encoders():
    with pytest.raises(ConfigError):
        build_config({"network": {"preset": "unet-transformer-only"}})
    config = build_config({"network": {"preset": "unet-transformer-only", "train_text_encoders": False}})
    assert config.network.preset == "unet-transformer-only"


def test_resolution_accepts_number_or_pair():
    assert build_config({"dataset": {"resolution_px": 1024}}).resolution == (1024, 1024)
    assert build_config({"dataset": {"resolution_px": [1024, 1536]}}).resolution == (1024, 1536)
    with pytest.raises(ConfigError):
        build_config({"dataset": {"resolution_px": [1024, 1000]}})


def test_family_quality_tags_fill_in_when_unset():
    assert build_config({"model": {"family": "pony"}}).quality_tags[:1] == ("score_9",)
    assert build_config({"model": {"family": "pony"}, "captions": {"quality_tags": []}}).quality_tags == ()
    assert build_config({"model": {"family": "animagine"}}).quality_tags == ()


def test_schema_version_checked():
    with pytest.raises(ConfigError) as info:
        build_config({"schema_version": 99})
    assert codes(info.value) == ["config-schema-version"]


def test_override_parsing():
    assert parse_override("training.epochs=30") == {"training": {"epochs": 30}}
    assert parse_override("captions.trigger=mystyle") == {"captions": {"trigger": "mystyle"}}
    assert parse_override("dataset.resolution_px=[1024,1536]") == {"dataset": {"resolution_px": [1024, 1536]}}
    with pytest.raises(ConfigError):
        parse_override("epochs")


def test_toml_round_trip_is_lossless():
    config = build_config(
        {"model": {"family": "pony"}, "dataset": {"resolution_px": [1024, 1536]}, "optimizer": {"args": {"betas": [0.9, 0.99]}}}
    )
    text = config_to_toml(config, header="frozen for run-01")
    assert text.startswith("# frozen for run-01")
    assert "# rank of linear modules" in text
    again = build_config(parse_toml(text, "x"))
    assert again == config


def test_every_key_documented():
    config = Config()
    data = config_to_dict(config)
    for key in all_keys():
        section, name = key.split(".")
        assert name in data[section] or config.get(key) is None


def test_config_doc_is_current():
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("gen_config_doc", root / "scripts" / "gen_config_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (root / "docs" / "CONFIG.md").read_text() == module.render(), "run python scripts/gen_config_doc.py"


def test_every_problem_is_shown_with_its_true_source(tmp_path):
    from tests.conftest import run_cli

    result = run_cli("plan", "--set", "network.dim=0", "--set", "training.epochs=ten", "--set", "training.epochz=3")
    assert result.returncode == 1
    assert "3 config problems" in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("  ")]
    assert len(lines) == 3 and all(line.startswith("  your settings (options and --set): ") for line in lines), result.stderr
    assert "preset animagine-style" not in result.stderr


def test_broken_user_preset_files_are_errors_not_tracebacks(tmp_path, monkeypatch):
    from tests.conftest import run_cli

    presets = tmp_path / "config" / "stylora-tui" / "presets"
    presets.mkdir(parents=True)
    (presets / "wide.toml").write_bytes("# 北斎\n[training]\nepochs = 3\n".encode("utf-16"))
    (presets / "deep.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    listed = run_cli("presets", env=env)
    assert listed.returncode == 0 and "not UTF-8" in listed.stdout and "Traceback" not in listed.stderr
    for name, words in (("wide", "not UTF-8 text (UTF-16)"), ("deep", "nests tables or arrays too deeply")):
        result = run_cli("plan", "--preset", name, env=env)
        assert result.returncode == 1 and words in result.stderr and "Traceback" not in result.stderr, result.stderr


_tag = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=","), min_size=1, max_size=12
).filter(str.strip)


@st.composite
def _configs(draw):
    dim = draw(st.integers(1, 256))
    return build_config(
        {
            "model": {
                "path": draw(st.text(max_size=20)),
                "family": draw(st.sampled_from(["pony", "animagine", "other"])),
                "prediction_type": draw(st.sampled_from(["auto", "epsilon", "v_prediction"])),
            },
            "dataset": {
                "repeats": draw(st.integers(1, 20)),
                "resolution_px": draw(st.sampled_from([1024, [1024, 1536], [832, 1216]])),
                "random_crop": draw(st.booleans()),
            },
            "captions": {
                "trigger": draw(_tag),
                "quality_tags": draw(st.lists(_tag.map(str.strip), max_size=4)),
                "caption_dropout": draw(st.floats(0, 1)),
            },
            "network": {"dim": dim, "alpha": draw(st.floats(0.5, dim)), "conv_dim": dim, "conv_alpha": dim / 2},
            "optimizer": {
                "unet_lr": draw(st.floats(1e-7, 1.0)),
                "args": draw(st.dictionaries(st.sampled_from(["d_coef", "eps"]), st.floats(0, 2))),
            },
            "training": {
                "epochs": draw(st.integers(1, 500)),
                "zero_terminal_snr": draw(st.sampled_from(["auto", True, False])),
                "seed": draw(st.integers(0, 2**32 - 1)),
            },
            "samples": {"prompts": draw(st.lists(_tag.map(str.strip), max_size=3))},
        }
    )


@settings(max_examples=60, deadline=None)
@given(_configs())
def test_a_config_survives_its_own_toml(config):
    # The frozen config.toml is what a resumed trainer reads: it must give back the same config.
    assert build_config(parse_toml(config_to_toml(config, header="round trip"), "round trip")) == config
