"""`captions --add-trigger`: the trigger first in every caption, each tag once, in a new
folder; the dataset is byte-identical afterwards."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from tests.conftest import run_cli, tree_digest


def tagged_dataset(root):
    root.mkdir()
    captions = {
        "a": "1girl, solo, smile",  # no trigger
        "b": "1girl, ZQStyle, smile, smile",  # the trigger in the middle (another case), a duplicate
        "c": "zqstyle, outdoors",  # already first
    }
    for stem, text in captions.items():
        Image.new("RGB", (64, 96), "red").save(root / f"{stem}.png")
        (root / f"{stem}.txt").write_text(text, encoding="utf-8")
    Image.new("RGB", (64, 96), "blue").save(root / "d.png")  # no caption at all
    return root


def test_trigger_added_or_moved_and_duplicates_dropped_into_a_new_folder(tmp_path):
    source = tagged_dataset(tmp_path / "tagged")
    before = tree_digest(source)
    out = tmp_path / "with-trigger"
    result = run_cli("captions", str(source), "--add-trigger", "zqstyle", "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["images"], data["added"], data["moved"], data["already_first"], data["uncaptioned"]) == (4, 1, 1, 1, 1)
    assert data["duplicates_removed"] == 1  # b's second "smile"
    assert data["output"] == str(out) and data["linked"] == 4
    texts = {p.stem: p.read_text(encoding="utf-8") for p in out.glob("*.txt")}
    assert texts == {
        "a": "zqstyle, 1girl, solo, smile\n",
        "b": "zqstyle, 1girl, smile\n",
        "c": "zqstyle, outdoors\n",
        "d": "zqstyle\n",
    }
    assert (out / "a.png").stat().st_ino == (source / "a.png").stat().st_ino  # linked, no space used
    assert tree_digest(source) == before


def test_copy_and_refusals(tmp_path):
    source = tagged_dataset(tmp_path / "tagged")
    copied = run_cli("captions", str(source), "--add-trigger", "zqstyle", "-o", str(tmp_path / "copy"), "--copy", "--json")
    assert json.loads(copied.stdout)["copied"] == 4
    assert (tmp_path / "copy" / "a.png").stat().st_ino != (source / "a.png").stat().st_ino
    inside = run_cli("captions", str(source), "--add-trigger", "zqstyle", "-o", str(source / "out"))
    assert inside.returncode == 1 and "inside the dataset" in inside.stderr
    taken = run_cli("captions", str(source), "--add-trigger", "zqstyle", "-o", str(tmp_path / "copy"))
    assert taken.returncode == 1 and "not empty" in taken.stderr
    # Pony's own quality tag cannot be a Pony trigger: refused before anything is written.
    quality = run_cli("captions", str(source), "--add-trigger", "score_9", "--family", "pony", "-o", str(tmp_path / "q"))
    assert quality.returncode == 1 and "score_9" in quality.stderr and not (tmp_path / "q").exists()


def test_the_suggested_tag_command_works_as_printed(tmp_path):
    """The hint for uncaptioned images is a whole `tag` command (its required --trigger
    included) that runs as printed."""
    import shlex

    source = tagged_dataset(tmp_path / "tagged")
    result = run_cli("captions", str(source), "--add-trigger", "zqstyle", "-o", str(tmp_path / "with-trigger"))
    assert result.returncode == 0, result.stderr
    printed = result.stdout.split("`")[1]
    argv = shlex.split(printed)
    assert "--trigger" in argv and argv[argv.index("--trigger") + 1] == "zqstyle" and "--keep-existing" in argv
    from tests.tagger_fixture import write_tiny_tagger

    pytest.importorskip("onnxruntime")
    tagger = write_tiny_tagger(tmp_path / "tagger")
    ran = run_cli(*argv[argv.index("tag") :], "--tagger", str(tagger))
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "tagged-tagged" / "d.txt").read_text().startswith("zqstyle, ")


def test_a_caption_over_the_largest_limit_is_not_told_to_raise_it(tmp_path):
    from stylora_tui.config.build import build_config
    from stylora_tui.dataset.doctor import examine
    from stylora_tui.dataset.scan import scan_dataset
    from stylora_tui.integrations.clip_tokenizer import load_shipped

    root = tmp_path / "long"
    root.mkdir()
    Image.new("RGB", (64, 96), "red").save(root / "a.png")
    (root / "a.txt").write_text(", ".join(["zqstyle"] + [f"tag number {i}" for i in range(200)]), encoding="utf-8")
    for limit, says in ((75, "raise captions.max_token_length to 150 or 225"), (150, "to 225"), (225, "225 is the most")):
        config = build_config({"captions": {"trigger": "zqstyle", "max_token_length": limit}})
        hint = next(f.hint for f in examine(scan_dataset(root), config, load_shipped()).findings if f.code == "caption-too-long")
        assert says in hint and (limit != 225 or "raise" not in hint)
