from __future__ import annotations

import os
import random
import struct
import unicodedata
import zlib
from pathlib import Path

import pytest
from PIL import Image

from stylora_tui.config.build import build_config
from stylora_tui.dataset.doctor import examine
from stylora_tui.dataset.scan import ProbeCache, scan_dataset
from stylora_tui.errors import DatasetError
from tests.conftest import TRIGGER, caption, picture, tree_digest


def bomb_png(path: Path, side: int = 40000) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


@pytest.fixture
def broken(tmp_path) -> Path:
    root = tmp_path / "dataset"
    root.mkdir()
    for i in range(4):
        picture(i).save(root / f"good{i}.jpg", quality=90)
        caption(root, f"good{i}")
    data = (root / "good0.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 2])
    caption(root, "truncated")
    (root / "random.png").write_bytes(random.Random(1).randbytes(5000))
    caption(root, "random")
    (root / "zero.webp").write_bytes(b"")
    caption(root, "zero")
    bomb_png(root / "bomb.png")
    caption(root, "bomb")
    picture(10, mode="CMYK").save(root / "cmyk.jpg")
    caption(root, "cmyk")
    picture(11).convert("I;16").save(root / "deep.png")
    caption(root, "deep")
    alpha = picture(12).convert("RGBA")
    alpha.putpixel((5, 5), (0, 0, 0, 0))
    alpha.save(root / "alpha.png")
    caption(root, "alpha")
    rotated = picture(13, size=(1536, 1024))
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated.save(root / "rotated.JPG", exif=exif.tobytes())
    caption(root, "rotated")
    (root / "copy.jpg").write_bytes((root / "good1.jpg").read_bytes())
    caption(root, "copy")
    Image.open(root / "good2.jpg").resize((900, 1350)).save(root / "near.jpg", quality=70)
    caption(root, "near")
    picture(14).save(root / "sjis.jpg")
    (root / "sjis.txt").write_bytes(f"{TRIGGER}, ".encode() + "着物".encode("cp932"))
    picture(15).save(root / "utf16.jpg")
    (root / "utf16.txt").write_bytes(f"{TRIGGER}, 1girl".encode("utf-16"))
    picture(16).save(root / "bom.jpg")
    (root / "bom.txt").write_bytes(b"\xef\xbb\xbf" + f"{TRIGGER}, 1girl".encode())
    nfc = unicodedata.normalize("NFC", "café")
    picture(17).save(root / f"{nfc}.jpg")
    caption(root, unicodedata.normalize("NFD", "café"))
    picture(18).save(root / "nocaption.jpg")
    picture(19).save(root / "empty.jpg")
    caption(root, "empty", " , \n")
    picture(20).save(root / "notrigger.jpg")
    caption(root, "notrigger", "1girl, hokusaistyle, solo")
    picture(21, size=(512, 512)).save(root / "small.jpg")
    caption(root, "small")
    (root / "notes.md").write_text("my notes")
    (root / "orphan.txt").write_text("no image")
    (root / "sub").mkdir()
    return root


def findings_by_path(report) -> dict:
    result: dict = {}
    for f in report.findings:
        result.setdefault(f.path, set()).add(f.code)
    return result


def test_every_broken_input_gets_its_finding_and_nothing_is_touched(broken):
    before = tree_digest(broken)
    config = build_config({"captions": {"trigger": TRIGGER}, "dataset": {"resolution_px": [1024, 1536]}})
    report = examine(scan_dataset(broken, workers=2), config)
    found = findings_by_path(report)
    unreadable = {p for p, codes in found.items() if "unreadable-image" in codes}
    assert unreadable == {"truncated.jpg", "random.png", "zero.webp", "bomb.png"}
    messages = {f.path: f.message for f in report.findings if f.code == "unreadable-image"}
    assert "truncated" in messages["truncated.jpg"] and "empty" in messages["zero.webp"]
    assert "bomb" in messages["bomb.png"] and "not an image" in messages["random.png"]
    assert "color-mode" in found["cmyk.jpg"] and "color-mode" in found["deep.png"]
    assert "transparency" in found["alpha.png"]
    assert "exif-rotated" in found["rotated.JPG"]
    duplicates = {p for p, codes in found.items() if "duplicate-image" in codes}
    assert duplicates == {"good1.jpg", "near.jpg"}, "one of each pair is flagged, naming the other"
    assert "caption-encoding" in found["sjis.jpg"] and "caption-encoding" in found["utf16.jpg"]
    assert "caption-encoding" in found["bom.jpg"]
    assert "missing-caption" in found["nocaption.jpg"]
    assert "empty-caption" in found["empty.jpg"]
    assert "trigger-missing" in found["notrigger.jpg"]
    assert "low-resolution" in found["small.jpg"]
    assert not found.get("café.jpg", set()) & {"missing-caption"}, "NFD caption name pairs with the NFC image"
    assert "ignored-file" in found["notes.md"] and "ignored-file" in found["orphan.txt"] and "ignored-file" in found["sub"]
    for good in ("good0.jpg", "good3.jpg", "copy.jpg", "good2.jpg"):
        assert good not in found
    sjis = next(f for f in report.findings if f.path == "sjis.jpg" and f.code == "caption-encoding")
    assert sjis.severity.value == "error" and "offset" in sjis.message and "cp932" in sjis.message
    assert report.has_errors
    assert len(report.scan.images) == 22 and len(report.scan.usable) == 18
    assert tree_digest(broken) == before


def test_rescan_hits_the_cache(broken, tmp_path):
    cache = ProbeCache(tmp_path / "cache.sqlite")
    first = scan_dataset(broken, cache=cache, workers=1)
    calls = []
    second = scan_dataset(broken, cache=cache, workers=1, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(22, 22)], "everything came from the cache"
    assert [i.info for i in first.images] == [i.info for i in second.images]
    (broken / "good0.jpg").write_bytes((broken / "truncated.jpg").read_bytes())
    third = scan_dataset(broken, cache=cache, workers=1)
    assert next(i for i in third.images if i.rel == "good0.jpg").info.error


def test_kohya_repeat_folders_and_aspect_mix(tmp_path):
    root = tmp_path / "d"
    (root / "4_portrait").mkdir(parents=True)
    (root / "2_wide").mkdir()
    for i in range(6):
        picture(i).save(root / "4_portrait" / f"p{i}.jpg")
        caption(root / "4_portrait", f"p{i}")
    picture(9, size=(1536, 1024)).save(root / "2_wide" / "w.jpg")
    caption(root / "2_wide", "w")
    (root / "stray.jpg").write_bytes(b"")
    config = build_config({"captions": {"trigger": TRIGGER}, "training": {"batch_size": 2, "epochs": 10}})
    report = examine(scan_dataset(root), config)
    assert [(i.rel, i.repeats) for i in report.scan.images][0] == ("2_wide/w.jpg", 2)
    mix = [f for f in report.findings if f.code == "aspect-ratio-mix"]
    assert len(mix) == 1 and "6 of 7 are 2:3" in mix[0].message and "--aspect 2:3" in mix[0].hint
    assert any(f.code == "small-bucket" for f in report.findings)
    assert any(f.code == "ignored-file" and f.path == "stray.jpg" for f in report.findings)
    # 6 images x 4 repeats / batch 2 = 12, plus 1 x 2 / 2 = 1 -> 13 steps per epoch.
    assert report.steps.steps_per_epoch == 13 and report.steps.total_steps == 130
    assert not any(f.code == "under-training" for f in report.findings)


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError) as info:
        scan_dataset(tmp_path / "nope")
    assert "does not exist" in info.value.message


def test_pony_quality_tags_missing(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    picture(1).save(root / "a.jpg")
    caption(root, "a", f"{TRIGGER}, score_9, 1girl")
    config = build_config({"model": {"family": "pony"}, "captions": {"trigger": TRIGGER}})
    report = examine(scan_dataset(root), config)
    missing = [f for f in report.findings if f.code == "quality-tags-missing"]
    assert missing and "score_8_up" in missing[0].message and "score_9," not in missing[0].message


def test_scan_uses_no_write_in_dataset_even_when_cache_is_unwritable(broken, monkeypatch, tmp_path):
    before = tree_digest(broken)
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    monkeypatch.setenv("XDG_CACHE_HOME", str(ro / "inner"))
    scan_dataset(broken, workers=1)
    assert tree_digest(broken) == before


def test_counts_follow_the_configs_repeats_not_the_ones_the_scan_was_made_with(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(3):
        picture(i, (64, 96)).save(flat / f"{i}.png")
        caption(flat, str(i))
    scan = scan_dataset(flat, ".txt", 2)
    config = build_config({"dataset": {"repeats": 5, "resolution_px": 64}, "training": {"epochs": 10}})
    assert examine(scan, config).steps.total_steps == 3 * 5 * 10
    # kohya's <repeats>_<name> folders keep their own count whatever the setting says.
    numbered = tmp_path / "numbered"
    (numbered / "3_art").mkdir(parents=True)
    for i in range(2):
        picture(i, (64, 96)).save(numbered / "3_art" / f"{i}.png")
        caption(numbered / "3_art", str(i))
    assert examine(scan_dataset(numbered, ".txt", 2), config).steps.total_steps == 2 * 3 * 10
