"""Hostile or broken datasets: links out of the folder, pipes, huge captions, wrong encodings."""

from __future__ import annotations

import json
import os
import shlex
import subprocess

import pytest

from stylora_tui.config.build import build_config
from stylora_tui.dataset.doctor import examine
from stylora_tui.dataset.scan import scan_dataset
from tests.conftest import TRIGGER, caption, picture, run_cli


def _config(folder):
    return build_config({"dataset": {"path": str(folder)}, "captions": {"trigger": TRIGGER}})


def test_a_caption_linked_outside_the_dataset_is_never_read(tmp_path):
    secret = tmp_path / "secret-key.txt"
    secret.write_text("PRIVATE-KEY-DO-NOT-LEAK")
    secret.chmod(0o600)
    folder = tmp_path / "data"
    folder.mkdir()
    picture(1, (256, 384)).save(folder / "a.png")
    (folder / "a.txt").symlink_to(secret)
    picture(2, (256, 384)).save(tmp_path / "outside.png")
    (folder / "b.png").symlink_to(tmp_path / "outside.png")
    scan = scan_dataset(folder, ".txt", 1)
    assert [i.rel for i in scan.images] == ["a.png"] and scan.images[0].caption is None
    report = examine(scan, _config(folder))
    codes = {(f.code, f.path) for f in report.findings}
    assert ("outside-dataset", "a.txt") in codes and ("outside-dataset", "b.png") in codes
    assert "PRIVATE-KEY" not in json.dumps(report.to_json())


def test_a_pipe_named_like_an_image_or_caption_does_not_hang_check(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    picture(1, (256, 384)).save(folder / "a.png")
    caption(folder, "a")
    os.mkfifo(folder / "x.png")
    os.mkfifo(folder / "a2.txt")
    picture(2, (256, 384)).save(folder / "a2.png")
    result = run_cli("check", str(folder), "--trigger", TRIGGER, "--json", timeout=60)
    data = json.loads(result.stdout)
    refused = {f["path"] for f in data["findings"] if f["code"] == "not-regular-file"}
    assert refused == {"x.png", "a2.txt"}


def test_a_huge_caption_is_cut_and_reported_quickly(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    picture(1, (256, 384)).save(folder / "a.png")
    caption(folder, "a", ", ".join([TRIGGER] + [f"tag number {i}" for i in range(300_000)]))  # ~5 MB
    result = run_cli("check", str(folder), "--trigger", TRIGGER, "--json", timeout=60)
    codes = {f["code"] for f in json.loads(result.stdout)["findings"]}
    assert {"caption-too-large", "caption-too-long"} <= codes


def test_encoding_hints_name_the_encoding_they_found_and_work_as_printed(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for stem, raw in (("utf16", f"{TRIGGER}, 1girl".encode("utf-16")), ("sjis", f"{TRIGGER}, 葛飾北斎".encode("cp932"))):
        picture(len(stem), (256, 384)).save(folder / f"{stem}.png")
        (folder / f"{stem}.txt").write_bytes(raw)
    report = examine(scan_dataset(folder, ".txt", 1), _config(folder))
    hints = {f.path: f.hint for f in report.findings if f.code == "caption-encoding"}
    assert "iconv -f UTF-16 " in hints["utf16.png"] and "iconv -f CP932 " in hints["sjis.png"]
    copy = tmp_path / "copy"
    copy.mkdir()
    for stem in ("utf16", "sjis"):
        (copy / f"{stem}.txt").write_bytes((folder / f"{stem}.txt").read_bytes())
        command = hints[f"{stem}.png"].split("re-save it as UTF-8: ")[1].split(" (in a copy")[0]
        subprocess.run(command, shell=True, cwd=copy, check=True)
        assert (copy / f"{stem}.txt").read_text(encoding="utf-8").startswith(TRIGGER), shlex.quote(command)


ESCAPES = {"clear": "\x1b[2J", "osc52": "\x1b]52;c;ZXZpbA==\x07", "title": "\x1b]0;pwned\x07"}


def _hostile_folder(tmp_path):
    folder = tmp_path / "[" / "]data[bold]"  # the path holds "[/]": Rich markup that closes a tag
    folder.mkdir(parents=True)
    for index, (label, sequence) in enumerate(ESCAPES.items()):
        stem = f"{label}{sequence}x[bold]"
        picture(index, (256, 384)).save(folder / f"{stem}.png")
        (folder / f"{stem}.txt").write_text(f"{TRIGGER}, tag{sequence}")
    picture(9, (256, 384)).save(folder / "nocaption\x1b[31m.png")
    return folder


def test_check_writes_no_escape_sequence_from_file_names_or_captions(tmp_path):
    folder = _hostile_folder(tmp_path)
    for args in ((), ("--json",)):
        result = run_cli("check", str(folder), "--trigger", "another", *args)
        written = result.stdout + result.stderr
        assert "\x1b" not in written and "\x07" not in written, args
        assert "Traceback" not in written
    shown = run_cli("check", str(folder), "--trigger", "another").stdout
    assert "\\x1b[2J" in shown and "x[bold]" in shown and "[/]data[bold]" in shown, "shown escaped, not swallowed as markup"


@pytest.mark.asyncio
async def test_the_wizard_shows_hostile_names_escaped_and_survives_markup(tmp_path):
    from stylora_tui.config.wizard import WizardState
    from stylora_tui.integrations.clip_tokenizer import load_shipped
    from stylora_tui.tui.app import StyloraApp
    from stylora_tui.tui.services import Services

    folder = _hostile_folder(tmp_path)
    tokenizer = load_shipped()
    services = Services(runs_root=tmp_path / "runs", tokenizers=lambda _p: (tokenizer, tokenizer))
    app = StyloraApp(services, WizardState(model_path="demo", dataset_path=str(folder), trigger="another"))
    async with app.run_test(size=(100, 40)) as pilot:
        app.show_step("dataset")
        for _ in range(200):
            if app.report is not None:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        rendered = str(app.screen.query_one("#findings").render())
        assert "\x1b" not in rendered and "\\x1b" in rendered and "x[bold]" in rendered
        summary = str(app.screen.query_one("#summary").render())
        assert "4 images" in summary


def test_files_swapped_for_pipes_after_the_listing_do_not_hang_check(tmp_path, monkeypatch):
    """The type check passes, then (before the open) the caption and an image become FIFOs:
    the open neither blocks nor reads them; each is an error naming the file."""
    import threading

    from stylora_tui.dataset import scan as scan_module

    folder = tmp_path / "data"
    folder.mkdir()
    for stem in ("a", "b"):
        picture(len(stem), (256, 384)).save(folder / f"{stem}.png")
        caption(folder, stem)
    real_refusal = scan_module._refusal

    def check_then_swap(entry, root):
        problem = real_refusal(entry, root)
        if entry.name in ("a.txt", "b.png"):
            entry.unlink()
            os.mkfifo(entry)
        return problem

    monkeypatch.setattr(scan_module, "_refusal", check_then_swap)
    result = {}
    worker = threading.Thread(target=lambda: result.update(scan=scan_dataset(folder, ".txt", 1, workers=1)), daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the scan blocked on a FIFO"
    report = examine(result["scan"], _config(folder))
    errors = {(f.code, f.path) for f in report.findings if f.severity.value == "error"}
    assert ("not-regular-file", "a.png") in errors
    assert any(f.path == "b.png" and "not a regular file" in f.message for f in report.findings if f.code == "unreadable-image")
