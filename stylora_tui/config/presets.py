"""Presets: partial configs in TOML, shipped with the package or saved by the user.

User presets (in the XDG config dir) shadow shipped ones of the same name. Edits go
through tomlkit so a user's comments and key order survive.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stylora_tui import paths
from stylora_tui.atomic import write_text_atomic
from stylora_tui.config.build import build_config
from stylora_tui.config.schema import Config
from stylora_tui.config.toml_io import parse_toml, read_toml_file
from stylora_tui.errors import PresetError

PRESET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class PresetInfo:
    name: str
    path: Path
    source: str  # "shipped" or "user"
    description: str


def _description(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return "(unreadable: not UTF-8 text; re-save it as UTF-8)"
    except OSError as exc:
        return f"(unreadable: {exc.strerror or exc})"
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line:
            break
    return ""


def list_presets(user_dir: Path | None = None) -> list[PresetInfo]:
    """Every preset by name; a user preset hides the shipped one it shares a name with."""
    found: dict[str, PresetInfo] = {}
    for source, directory in (("shipped", paths.shipped_presets_dir()), ("user", user_dir or paths.user_presets_dir())):
        if directory.is_dir():
            for path in sorted(directory.glob("*.toml")):
                found[path.stem] = PresetInfo(path.stem, path, source, _description(path))
    return sorted(found.values(), key=lambda p: p.name)


def resolve_preset(name_or_path: str, user_dir: Path | None = None) -> Path:
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix == ".toml" or "/" in name_or_path:
        if candidate.is_file():
            return candidate
        raise PresetError(
            f"preset file {name_or_path} does not exist", "give an existing .toml file or a preset name (`stylora-tui presets`)"
        )
    presets = {p.name: p for p in list_presets(user_dir)}
    if name_or_path in presets:
        return presets[name_or_path].path
    close = difflib.get_close_matches(name_or_path, list(presets), n=1, cutoff=0.4)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise PresetError(f"no preset named {name_or_path!r}", f"{hint}available: {', '.join(sorted(presets))}")


def load_preset_data(name_or_path: str, user_dir: Path | None = None) -> dict:
    return read_toml_file(resolve_preset(name_or_path, user_dir), "preset")


def load_preset(name_or_path: str, user_dir: Path | None = None) -> Config:
    """A preset over the defaults, validated (paths may still be empty)."""
    path = resolve_preset(name_or_path, user_dir)
    return build_config(read_toml_file(path, "preset"), source=f"preset {path.name}")


def edit_toml(text: str, edits: dict[str, Any]) -> str:
    """Set dotted keys in TOML text, keeping every comment and the order of what is there."""
    import tomlkit

    doc = tomlkit.parse(text)
    for dotted, value in edits.items():
        section, key = dotted.split(".", 1)
        if section not in doc:
            doc.add(section, tomlkit.table())
        table = doc[section]
        table[key] = list(value) if isinstance(value, tuple) else value
    return tomlkit.dumps(doc)


def save_user_preset(
    name: str, base: str, edits: dict[str, Any], user_dir: Path | None = None, *, overwrite: bool = False
) -> Path:
    """Write `base` with `edits` applied as a user preset; validated before anything is written."""
    if not PRESET_NAME.match(name):
        raise PresetError(f"preset name {name!r} is not allowed", "use letters, digits, '.', '-' and '_' (e.g. my-style)")
    source = resolve_preset(base, user_dir)
    text = _described(edit_toml(source.read_text(encoding="utf-8"), edits), name, base, edits)
    build_config(parse_toml(text, name), source=f"preset {name}")
    directory = user_dir or paths.user_presets_dir()
    target = directory / f"{name}.toml"
    if target.exists() and not overwrite and target.resolve() != source.resolve():
        raise PresetError(f"user preset {name!r} already exists at {target}", "choose another name, or overwrite it")
    directory.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, text)
    return target


def _described(text: str, name: str, base: str, edits: dict[str, Any]) -> str:
    """The saved preset's first line says what it is (the list shows it), not the base's words."""
    changed = ", ".join(f"{k} = {v}" for k, v in sorted(edits.items())) or "no changes"
    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith("#"):
        lines = lines[1:]
    return f"# {name}: {base} with {changed}\n" + "".join(lines)


FAMILY_PRESETS = {
    "pony": "pony-style",
    "animagine": "animagine-style",
    "illustrious": "illustrious-style",
    "noobai": "noobai-style",
    "other": "sdxl-style",
}


def preset_for(family: str | None, preset: str | None, edits: dict | None = None) -> Config:
    """The config a check or a launch starts from: the given preset, else the family's
    best-recipe preset; then the family and `edits` ({section: {key: value}}) on top."""
    name = preset or FAMILY_PRESETS.get(family or "animagine", "animagine-style")
    layers, sources = [load_preset_data(name)], [f"preset {name}"]
    if family:
        layers.append({"model": {"family": family}})
        sources.append("--family")
    if edits:
        layers.append(edits)
        sources.append("your settings (options and --set)")
    return build_config(*layers, sources=tuple(sources))
