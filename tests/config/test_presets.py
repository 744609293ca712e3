from __future__ import annotations

import json

import pytest

from stylora_tui import paths
from stylora_tui.config.presets import (
    edit_toml,
    list_presets,
    load_preset,
    resolve_preset,
    save_user_preset,
)
from stylora_tui.errors import ConfigError, PresetError
from stylora_tui.paths import shipped_presets_dir

# From the package folder itself: collection runs before the fixture that hides the user's
# own presets, and a preset a user saved must never become a test case.
SHIPPED = {p.stem for p in shipped_presets_dir().glob("*.toml")}


def test_shipped_presets_cover_families_and_intents():
    assert {"animagine-style", "pony-style", "sdxl-style", "animagine-first-try", "animagine-delicate", "demo"} <= SHIPPED


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_preset_validates_and_is_commented(name):
    config = load_preset(name)
    text = resolve_preset(name).read_text()
    assert text.startswith("#"), "first line describes the preset"
    assert config.schema_version == 1


def test_best_recipe_values():
    best = load_preset("animagine-style")
    assert (best.dataset.repeats, best.training.epochs, best.saving.every_n_epochs) == (2, 150, 10)
    assert (best.network.dim, best.network.alpha, best.network.preset) == (64, 32, "full")
    quick = load_preset("animagine-first-try")
    assert (quick.dataset.repeats, quick.training.epochs) == (4, 30)
    delicate = load_preset("animagine-delicate")
    assert (delicate.network.dim, delicate.network.alpha) == (128, 64)
    pony = load_preset("pony-style")
    assert pony.model.family == "pony" and pony.quality_tags == ("score_9", "score_8_up", "score_7_up", "source_anime")


def test_edit_keeps_comments_and_order():
    source = resolve_preset("animagine-style").read_text()
    edited = edit_toml(source, {"network.dim": 32, "network.alpha": 16.0, "captions.trigger": "mystyle"})
    assert "# LoCon preset `full`" in edited and "# Dim 64 with alpha half of dim" in edited
    assert "dim = 32" in edited and 'trigger = "mystyle"' in edited
    assert edited.index("[model]") < edited.index("[dataset]") < edited.index("[network]")


def test_user_preset_shadows_shipped_and_keeps_comments():
    saved = save_user_preset("animagine-style", "animagine-style", {"training.epochs": 80})
    assert saved.parent == paths.user_presets_dir()
    assert load_preset("animagine-style").training.epochs == 80
    assert "# Cosine with warmup." in saved.read_text()
    info = {p.name: p for p in list_presets()}["animagine-style"]
    assert info.source == "user"


def test_invalid_edit_writes_nothing():
    with pytest.raises(ConfigError):
        save_user_preset("broken", "animagine-style", {"network.alpha": 500.0})
    assert not (paths.user_presets_dir() / "broken.toml").exists()


def test_unknown_preset_suggests():
    with pytest.raises(PresetError) as info:
        resolve_preset("pony-styl")
    assert "pony-style" in info.value.hint


def test_bad_preset_name_refused():
    with pytest.raises(PresetError):
        save_user_preset("../evil", "demo", {})


def test_a_users_own_presets_never_become_test_cases(tmp_path):
    # A user who saved a preset in the wizard must still get a green `make test`.
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    presets = tmp_path / "config" / "stylora-tui" / "presets"
    presets.mkdir(parents=True)
    (presets / "my-hokusai.toml").write_text("# mine\n[training]\nepochs = 3\n")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/config/test_presets.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert "animagine-style" in collected.stdout and "my-hokusai" not in collected.stdout


@pytest.mark.parametrize("family", ["illustrious", "noobai"])
def test_todays_anime_families_apply_their_own_rules(family):
    from tests.conftest import run_cli

    reserved = run_cli("trigger", "score_9", "--family", family)
    assert reserved.returncode == 1 and "trigger-quality-tag" in reserved.stdout
    for word in ("masterpiece", "newest", "year 2024") + (("very awa",) if family == "noobai" else ()):
        result = run_cli("trigger", word, "--family", family, "--json")
        assert "trigger-quality-word" in [f["code"] for f in json.loads(result.stdout)["findings"]], word


def test_family_from_file_names():
    from stylora_tui.config.families import detect_family

    assert detect_family("/m/noobaiXLNAIXL_vPred10Version.safetensors") == "noobai"
    assert detect_family("/m/illustriousXL_v01.safetensors") == "illustrious"
    assert detect_family("/m/ponyDiffusionV6XL.safetensors") == "pony"
    assert detect_family("/m/animagine-xl-4.0.safetensors") == "animagine"
    assert detect_family("/m/myMerge.safetensors") is None


def test_the_vpred_preset_trains_the_v_target_with_zero_terminal_snr():
    config = load_preset("noobai-vpred-style")
    assert config.model.family == "noobai" and config.model.prediction_type == "v_prediction"
    assert config.training.zero_terminal_snr is True
    assert load_preset("illustrious-style").model.prediction_type == "auto"
