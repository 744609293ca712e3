from __future__ import annotations

import json

from PIL import Image

from stylora_tui.paths import examples_dir
from tests.conftest import run_cli


def test_check_json_contract_on_the_demo_dataset():
    proc = run_cli("check", str(examples_dir() / "demo-style"), "--preset", "demo", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"images", "usable", "buckets", "steps", "findings"} <= set(data)
    assert data["images"] == data["usable"] == 8
    assert data["buckets"] == [{"width": 128, "height": 192, "count": 8}]
    assert data["steps"]["per_epoch"] == 16 and data["steps"]["total"] == 32
    for finding in data["findings"]:
        assert set(finding) == {"severity", "code", "path", "message", "hint"}


def test_check_exit_1_on_errors_and_readable_report(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    Image.new("RGB", (1024, 1536)).save(tmp_path / "b.jpg")
    (tmp_path / "b.txt").write_text("other, 1girl")
    Image.new("RGB", (1024, 1536), "white").save(tmp_path / "c.jpg")
    proc = run_cli("check", str(tmp_path), "--trigger", "mystyle")
    assert proc.returncode == 1
    assert "unreadable-image" in proc.stdout and "trigger-missing" in proc.stdout and "fix the errors" in proc.stdout
    data = json.loads(run_cli("check", str(tmp_path), "--trigger", "mystyle", "--json").stdout)
    assert {f["code"] for f in data["findings"]} >= {"unreadable-image", "trigger-missing", "missing-caption"}
    # The empty a.jpg is reported once, as unreadable: its missing caption is moot.
    assert [f["path"] for f in data["findings"] if f["code"] == "missing-caption"] == ["c.jpg"]


def test_check_missing_folder_exit_1():
    proc = run_cli("check", "/nonexistent/folder")
    assert proc.returncode == 1 and proc.stderr.startswith("error: dataset folder") and "Traceback" not in proc.stderr
