"""The house rules: floors import only downwards, torch and Textual stay in their rooms,
and no module grows past what a reader holds in their head."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

LONGEST_MODULE = 420


def test_import_contracts_hold():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([lint, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout


def test_no_module_is_too_long_to_read():
    long = {
        str(p.relative_to(REPO)): n
        for p in (REPO / "stylora_tui").rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > LONGEST_MODULE
    }
    assert not long, f"split these by what they hold: {long}"


LONGEST_FUNCTION = 80


def test_no_function_is_too_long_to_read():
    import ast

    long = {}
    for path in (REPO / "stylora_tui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > LONGEST_FUNCTION:
                long[f"{path.relative_to(REPO)}:{node.name}"] = node.end_lineno - node.lineno + 1
    assert not long, f"split these into named steps: {long}"


def test_a_newcomer_finds_the_rooms_by_their_names():
    packages = {p.name for p in (REPO / "stylora_tui").iterdir() if (p / "__init__.py").is_file()}
    assert {
        "config",
        "dataset",
        "model",
        "run",
        "launch",
        "forecast",
        "choose",
        "trainer",
        "tui",
        "commands",
        "views",
        "integrations",
        "interop",
    } <= packages
    assert (REPO / "stylora_tui" / "dataset" / "doctor.py").is_file()  # the dataset check
    assert (REPO / "stylora_tui" / "run" / "status.py").is_file()  # the run contract
    assert (REPO / "stylora_tui" / "trainer" / "loop.py").is_file()  # the trainer loop
    assert (REPO / "stylora_tui" / "tui" / "screens" / "monitor.py").is_file()  # the monitor
