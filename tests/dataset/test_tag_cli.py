"""`tag`: a WD14 tagger (a tiny ONNX model with the real interface) captions untagged
images into a new folder, the trigger first; the dataset is byte-identical afterwards."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from tests.conftest import run_cli, tree_digest
from tests.fakehub import FakeHub
from tests.tagger_fixture import write_tiny_tagger


@pytest.fixture(scope="module")
def tiny_tagger(tmp_path_factory):
    return write_tiny_tagger(tmp_path_factory.mktemp("tagger"))


def untagged(root):
    root.mkdir()
    for name, colour in (("red", "red"), ("blue", "blue"), ("green", (0, 255, 0))):
        Image.new("RGB", (48, 48), colour).save(root / f"{name}.png")
    return root


def captions(folder):
    return {p.stem: p.read_text(encoding="utf-8").strip() for p in folder.glob("*.txt")}


def test_untagged_images_get_tags_with_the_trigger_first(tmp_path, tiny_tagger):
    source = untagged(tmp_path / "art")
    before = tree_digest(source)
    result = run_cli(
        "tag", str(source), "-o", str(tmp_path / "tagged"), "--trigger", "zqstyle", "--tagger", str(tiny_tagger), "--json"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["images"], data["tagged"], data["kept"], data["without_tags"]) == (3, 3, 0, [])
    # Characters first, then general tags by confidence; the rating tag is dropped; _ -> space but not in ^_^.
    assert captions(tmp_path / "tagged") == {
        "red": "zqstyle, hatsune miku, red hair",
        "blue": "zqstyle, blue sky",
        "green": "zqstyle, ^_^",
    }
    assert tree_digest(source) == before and not list(source.glob("*.txt"))


def test_family_quality_tags_thresholds_and_kept_captions(tmp_path, tiny_tagger):
    source = untagged(tmp_path / "art")
    (source / "blue.txt").write_text("1girl, ocean", encoding="utf-8")
    pony = run_cli(
        "tag",
        str(source),
        "-o",
        str(tmp_path / "pony"),
        "--trigger",
        "zqstyle",
        "--family",
        "pony",
        "--tagger",
        str(tiny_tagger),
        "--keep-existing",
        "--json",
    )
    assert pony.returncode == 0, pony.stderr
    assert json.loads(pony.stdout)["kept"] == 1
    texts = captions(tmp_path / "pony")
    assert texts["red"] == "zqstyle, score_9, score_8_up, score_7_up, source_anime, hatsune miku, red hair"
    assert texts["blue"] == "zqstyle, score_9, score_8_up, score_7_up, source_anime, 1girl, ocean"  # kept, not re-tagged
    strict = run_cli(
        "tag",
        str(source),
        "-o",
        str(tmp_path / "strict"),
        "--trigger",
        "zqstyle",
        "--tagger",
        str(tiny_tagger),
        "--general",
        "0.9999",
        "--character",
        "0.9999",
        "--json",
    )
    assert json.loads(strict.stdout)["without_tags"] == ["blue.png", "green.png", "red.png"]
    assert captions(tmp_path / "strict")["red"] == "zqstyle"
    bad = run_cli(
        "tag", str(source), "-o", str(tmp_path / "x"), "--trigger", "zqstyle", "--tagger", str(tiny_tagger), "--general", "35"
    )
    assert bad.returncode == 1 and "not a probability" in bad.stderr


def test_the_tagger_is_fetched_from_the_hub_once(tmp_path, tiny_tagger):
    server = FakeHub()
    try:
        server.add(
            "SmilingWolf/wd-eva02-large-tagger-v3",
            {"model.onnx": tiny_tagger / "model.onnx", "selected_tags.csv": tiny_tagger / "selected_tags.csv", "README.md": b"#"},
        )
        env = {"HF_ENDPOINT": server.url, "HF_HOME": str(tmp_path / "hf"), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
        source = untagged(tmp_path / "art")
        first = run_cli("tag", str(source), "-o", str(tmp_path / "one"), "--trigger", "zqstyle", env=env)  # the default tagger
        assert first.returncode == 0, first.stderr
        asked = len(server.requests)
        second = run_cli(
            "tag", str(source), "-o", str(tmp_path / "two"), "--trigger", "zqstyle", env={**env, "HF_HUB_OFFLINE": "1"}
        )
        assert second.returncode == 0, second.stderr
        assert len(server.requests) == asked and captions(tmp_path / "two") == captions(tmp_path / "one")
    finally:
        server.close()


def test_a_folder_without_the_tagger_files_is_refused(tmp_path):
    source = untagged(tmp_path / "art")
    (tmp_path / "empty").mkdir()
    result = run_cli("tag", str(source), "-o", str(tmp_path / "o"), "--trigger", "zqstyle", "--tagger", str(tmp_path / "empty"))
    assert result.returncode == 1 and "model.onnx" in result.stderr and not (tmp_path / "o").exists()


def test_preprocessing_is_smilingwolfs(tiny_tagger, tmp_path):
    """Transparency flattened onto white, a white square pad, BGR channel order, 0-255."""
    from stylora_tui.integrations.tagger import Tagger

    tagger = Tagger(tiny_tagger / "model.onnx", tiny_tagger / "selected_tags.csv")
    Image.new("RGBA", (64, 32), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    Image.new("RGB", (64, 64), (255, 0, 0)).save(tmp_path / "red.png")
    Image.new("RGB", (64, 32), (0, 0, 255)).save(tmp_path / "wide.png")
    assert tagger.prepare(tmp_path / "clear.png").min() == 255.0
    red = tagger.prepare(tmp_path / "red.png")
    assert red.shape == (32, 32, 3) and red.dtype.name == "float32" and tuple(red[16, 16]) == (0.0, 0.0, 255.0)
    wide = tagger.prepare(tmp_path / "wide.png")
    assert tuple(wide[0, 16]) == (255.0, 255.0, 255.0) and tuple(wide[16, 16]) == (255.0, 0.0, 0.0)  # padded above, blue in BGR
