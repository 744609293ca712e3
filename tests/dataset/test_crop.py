from __future__ import annotations

import pytest
from PIL import Image

from stylora_tui.dataset.crop import crop_box, crop_dataset, parse_aspect
from stylora_tui.errors import DatasetError
from tests.conftest import run_cli, tree_digest


def test_crop_box_is_centered_and_largest():
    assert crop_box(1200, 1200, (2, 3)) == (200, 0, 1000, 1200)
    assert crop_box(1000, 2000, (2, 3)) == (0, 250, 1000, 1750)
    assert crop_box(1024, 1536, (2, 3)) == (0, 0, 1024, 1536)


@pytest.mark.parametrize("bad", ["2", "0:3", "a:b", ""])
def test_bad_aspect(bad):
    with pytest.raises(DatasetError):
        parse_aspect(bad)


def test_crop_writes_copies_and_never_touches_source(tmp_path):
    source = tmp_path / "d"
    (source / "3_style").mkdir(parents=True)
    Image.new("RGB", (1200, 1200), "red").save(source / "3_style" / "square.png")
    Image.new("RGB", (1024, 1536), "blue").save(source / "3_style" / "portrait.jpg")
    (source / "3_style" / "square.txt").write_text("mystyle, red")
    (source / "3_style" / "bad.jpg").write_bytes(b"junk")
    before = tree_digest(source)
    result = crop_dataset(source, tmp_path / "out", (2, 3))
    assert result.cropped == ("3_style/square.png",) and result.copied == ("3_style/portrait.jpg",)
    assert result.skipped[0][0] == "3_style/bad.jpg" and result.captions == 1
    assert Image.open(tmp_path / "out" / "3_style" / "square.png").size == (800, 1200)
    assert (tmp_path / "out" / "3_style" / "square.txt").read_text() == "mystyle, red"
    assert tree_digest(source) == before
    with pytest.raises(DatasetError):
        crop_dataset(source, tmp_path / "out", (2, 3))
    with pytest.raises(DatasetError):
        crop_dataset(source, source / "inside", (2, 3))


def test_crop_cli(tmp_path):
    source = tmp_path / "d"
    source.mkdir()
    Image.new("RGB", (900, 600), "red").save(source / "a.png")
    proc = run_cli("crop", str(source), "--aspect", "1:1", "-o", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    assert Image.open(tmp_path / "o" / "a.png").size == (600, 600)
    bad = run_cli("crop", str(source), "--aspect", "wide", "-o", str(tmp_path / "o2"))
    assert bad.returncode == 1 and "W:H" in bad.stderr
