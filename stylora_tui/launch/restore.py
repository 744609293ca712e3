"""A run brought back from its mirror onto this machine (`--resume NAME --from MIRROR`), to
be resumed like any other: from the newest complete checkpoint the mirror holds, with the
dataset and base-model checks of a resume. Where the dataset (or a local base model) lives
elsewhere on this machine, `--dataset` (`--model`) says where; the frozen config and the
manifest are pointed there, and the resume still refuses files that differ.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from stylora_tui.atomic import write_json_atomic, write_text_atomic
from stylora_tui.errors import RunError
from stylora_tui.rental.destinations import parse
from stylora_tui.run.catalog import remember_root
from stylora_tui.run.layout import RunDir, run_path, validate_run_name


def restore(name: str, mirror: str, root: Path, dataset: str | None = None, model: str | None = None) -> RunDir:
    validate_run_name(name)
    root.mkdir(parents=True, exist_ok=True)
    run = run_path(root, name)
    if run.path.exists():
        raise RunError(
            f"a run named {name!r} is already in {root}",
            f"resume it without --from, or pass --runs-dir with another folder to restore {name!r} into",
        )
    destination = parse(mirror)
    incoming = root / f".{name}.restoring"
    shutil.rmtree(incoming, ignore_errors=True)
    try:
        destination.pull(name, incoming)
        relocate(RunDir(incoming), dataset, model)
        incoming.rename(run.path)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    remember_root(root.absolute())
    return run


def relocate(run: RunDir, dataset: str | None, model: str | None) -> None:
    """Point the frozen config (and the manifest) at this machine's dataset and model."""
    if not dataset and not model:
        return
    import tomlkit

    config = tomlkit.parse(run.config.read_text(encoding="utf-8"))
    if dataset:
        folder = Path(dataset).expanduser().absolute()
        if not folder.is_dir():
            raise RunError(f"--dataset {dataset}: no such folder here", "give the folder that holds the run's images")
        config.setdefault("dataset", tomlkit.table())["path"] = str(folder)  # type: ignore[index]
        manifest = json.loads(run.dataset_manifest.read_text(encoding="utf-8"))
        manifest["dataset"] = str(folder)
        write_json_atomic(run.dataset_manifest, manifest)
    if model:
        path = Path(model).expanduser()
        config.setdefault("model", tomlkit.table())["path"] = str(path.absolute()) if path.exists() else model  # type: ignore[index]
    write_text_atomic(run.config, tomlkit.dumps(config))
