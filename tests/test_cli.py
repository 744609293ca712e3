from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli

HEAVY = ("torch", "diffusers", "textual", "lycoris", "accelerate", "transformers")


def imported_modules(*argv: str) -> set[str]:
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['stylora-tui', *{list(argv)!r}]\n"
        "try:\n    runpy.run_module('stylora_tui', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('MODULES', ' '.join(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    line = [text for text in out.stdout.splitlines() if text.startswith("MODULES")][-1]
    return set(line.split()[1:])


DEMO = str(Path(__file__).resolve().parent.parent / "stylora_tui" / "examples" / "demo-style")


@pytest.mark.parametrize(
    "argv",
    [
        ("--help",),
        ("runs", "--json"),
        ("presets",),
        ("runs", "--help"),
        ("check", DEMO, "--json"),
        ("trigger", "mystyle", "--json"),
    ],
)
def test_light_commands_import_no_heavy_library(argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loaded = imported_modules(*argv)
    assert not loaded & set(HEAVY), f"{argv} imported {loaded & set(HEAVY)}"


def test_every_command_has_help():
    from stylora_tui.cli import build_parser

    proc = run_cli("--help")
    assert proc.returncode == 0
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    commands = list(subparsers.choices)
    assert all(c in proc.stdout for c in commands)
    assert {"runs", "presets", "import-kohya", "export-kohya"} <= set(commands)
    for command in commands:
        sub = run_cli(command, "--help")
        assert sub.returncode == 0 and "usage: stylora-tui" in sub.stdout


def test_usage_error_exits_2_without_traceback():
    proc = run_cli("runs", "--frobnicate")
    assert proc.returncode == 2 and proc.stderr.startswith("error:") and "Traceback" not in proc.stderr


def test_runs_json_on_empty_and_populated_root(tmp_path):
    proc = run_cli("runs", "--json", "--runs-dir", str(tmp_path / "nothing"))
    assert proc.returncode == 0 and json.loads(proc.stdout) == []
    (tmp_path / "r" / "run-01").mkdir(parents=True)
    (tmp_path / "r" / "run-01" / "status.json").write_text(json.dumps({"state": "finished", "step": 40, "total_steps": 40}))
    proc = run_cli("runs", "--json", env={"STYLORA_RUNS_DIR": str(tmp_path / "r")})
    rows = json.loads(proc.stdout)
    assert rows == [
        {
            "name": "run-01",
            "status": "finished",
            "step": 40,
            "total_steps": 40,
            "pid": None,
            "outputs": [],
            "reason": "",
            "checkpoint_step": None,
            "checkpoint_error": "",
            "root": str(tmp_path / "r"),
            "suggested": None,
            "mirror": None,
            "elapsed_s": 0.0,
            "cost": None,
        }
    ]


def test_runs_and_resume_find_runs_from_any_folder(tmp_path):
    # After an SSH drop the user comes back in another folder (here, their home).
    from stylora_tui.run.catalog import create_run

    workspace = tmp_path / "workspace"
    workspace.mkdir()
    run = create_run(workspace / "runs", "hokusai")
    run.status_file.write_text(json.dumps({"state": "finished", "step": 8, "total_steps": 8}))
    home = tmp_path / "home"
    home.mkdir()
    listed = run_cli("runs", "--json", cwd=home)
    assert [(r["name"], r["root"]) for r in json.loads(listed.stdout)] == [("hokusai", str(workspace / "runs"))]
    resumed = run_cli("--resume", "hokusai", "--headless", cwd=home)
    assert resumed.returncode == 0 and "hokusai finished" in resumed.stdout, resumed.stderr
    create_run(tmp_path / "other" / "runs", "hokusai")
    ambiguous = run_cli("--resume", "hokusai", "--headless", cwd=home)
    assert ambiguous.returncode == 1 and "2 runs named 'hokusai'" in ambiguous.stderr and "--runs-dir" in ambiguous.stderr
    # From the project's own folder its ./runs comes first: every project has a run-01.
    mine = run_cli("runs", "hokusai", "--json", cwd=workspace)
    assert mine.returncode == 0 and json.loads(mine.stdout)["root"] == str(workspace / "runs"), mine.stderr
    theirs = run_cli("runs", "hokusai", "--json", cwd=tmp_path / "other")
    assert json.loads(theirs.stdout)["root"] == str(tmp_path / "other" / "runs")


def test_unknown_preset_is_one_clear_error():
    proc = run_cli("presets", "pony-styel")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == ["error: no preset named 'pony-styel'", proc.stderr.splitlines()[1]]
    assert "did you mean 'pony-style'" in proc.stderr


def test_cli_family_and_known_base_names_match_core():
    from stylora_tui.commands.arguments import FAMILY_NAMES, KNOWN_BASE_NAMES
    from stylora_tui.config.bases import KNOWN_BASES
    from stylora_tui.config.families import FAMILIES

    assert set(FAMILY_NAMES) == set(FAMILIES)
    assert set(KNOWN_BASE_NAMES) == set(KNOWN_BASES)


def test_the_tui_process_never_imports_torch():
    code = (
        "import sys\n"
        "from stylora_tui.tui.app import StyloraApp\n"
        "import stylora_tui.tui.screens.model, stylora_tui.tui.screens.dataset, stylora_tui.tui.screens.trigger\n"
        "import stylora_tui.tui.screens.preset, stylora_tui.tui.screens.review, stylora_tui.tui.screens.monitor\n"
        "import stylora_tui.commands.resume, stylora_tui.commands.train\n"
        "print(' '.join(m for m in ('torch', 'diffusers', 'lycoris', 'accelerate', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_wizard_without_a_terminal_says_what_to_do():
    proc = run_cli()
    assert proc.returncode == 1 and "needs an interactive terminal" in proc.stderr and "--demo --headless" in proc.stderr


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--from", "/mnt/mirror"], "--from needs --resume NAME"),
        (["--dataset", "d", "--model", "m"], "--dataset and --model need --resume NAME"),
        (["--resume", "run-01", "--demo"], "give one of them"),
        (["--demo", "check", "ds"], "--demo goes without a command"),
        (["--resume", "run-01", "runs"], "not with `runs`"),
        (["--headless", "--from", "x", "train"], "--headless and --from go without a command"),
    ],
)
def test_top_level_options_out_of_place_are_usage_errors(argv, said, capsys):
    """An option that would be ignored (`--from` without `--resume`, `--demo` before a
    command) is refused with exit 2, not silently dropped while the wizard opens."""
    from stylora_tui.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert said in capsys.readouterr().err


def test_top_level_options_in_place_still_run(tmp_path, capsys):
    from stylora_tui.cli import main

    assert main(["--runs-dir", str(tmp_path), "runs", "--json"]) == 0
    assert main(["--resume", "run-01", "--runs-dir", str(tmp_path)]) == 1  # no such run: an input error, not usage
    assert "no run named 'run-01'" in capsys.readouterr().err


def test_no_command_reuses_a_top_level_only_destination():
    """A command's own option stored under one of these names would read as the top-level
    option given out of place, and the command would be refused."""
    import argparse

    from stylora_tui.cli import TOP_LEVEL_ONLY, build_parser

    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    for name, parser in commands.choices.items():
        declared = {action.dest for action in parser._actions} | set(parser._defaults)
        assert not declared & set(TOP_LEVEL_ONLY), name


def test_stop_says_what_a_run_that_is_not_running_needs(tmp_path, capsys):
    from stylora_tui.cli import main
    from stylora_tui.run.catalog import create_run

    for name, state in (("done", "finished"), ("paused", "stopped")):
        run = create_run(tmp_path, name)
        run.status_file.write_text(json.dumps({"state": state, "step": 8, "total_steps": 8}))
    assert main(["stop", "done", "--runs-dir", str(tmp_path)]) == 1
    said = capsys.readouterr().err
    assert "has finished: there is nothing to stop" in said and str(tmp_path / "done" / "output") in said
    assert main(["stop", "paused", "--runs-dir", str(tmp_path)]) == 1
    said = capsys.readouterr().err
    assert "is not running (it is stopped)" in said and "--resume paused" in said
