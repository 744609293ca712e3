"""Configs in TOML: read with tomllib (tomli on Python 3.10), written with tomlkit so each
field's help survives as a comment."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from stylora_tui.config import toml_compat as tomllib
from stylora_tui.config.schema import SECTION_HELP, SECTIONS, Config
from stylora_tui.errors import ConfigError


def read_toml_file(path, what: str) -> dict:
    """A TOML file as data; a file that is not UTF-8 text is an error that says so."""
    from pathlib import Path

    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        encoding = "UTF-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "not UTF-8"
        raise ConfigError(
            f"{what} {path} is not UTF-8 text ({encoding})", "re-save it as UTF-8 (most editors: Save As, encoding UTF-8)"
        ) from None
    return parse_toml(text, str(path))


def parse_toml(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}", "fix the line named above; strings need quotes") from exc
    except RecursionError:
        raise ConfigError(
            f"{source} nests tables or arrays too deeply to be a config", "a stylora-tui config is sections of key = value lines"
        ) from None


def config_to_dict(config: Config) -> dict:
    """The config as TOML-ready data (None = unset is left out)."""
    data: dict[str, Any] = {"schema_version": config.schema_version}
    for section in SECTIONS:
        values = {}
        for f in fields(SECTIONS[section]):
            value = getattr(getattr(config, section), f.name)
            if value is None:
                continue
            if f.name == "resolution_px" and value[0] == value[1]:
                value = value[0]
            values[f.name] = list(value) if isinstance(value, tuple) else value
        data[section] = values
    return data


def config_to_toml(config: Config, header: str = "") -> str:
    """A complete config with each field's help as a comment (the run's frozen config.toml)."""
    import tomlkit

    doc = tomlkit.document()
    for line in header.splitlines():
        doc.add(tomlkit.comment(line))
    data = config_to_dict(config)
    doc.add("schema_version", data["schema_version"])
    for section in SECTIONS:
        table = tomlkit.table()
        table.comment(SECTION_HELP[section])
        for f in fields(SECTIONS[section]):
            if f.name not in data[section]:
                continue
            item = tomlkit.item(data[section][f.name])
            item.comment(f.metadata["help"])
            table.add(f.name, item)
        doc.add(section, table)
    return tomlkit.dumps(doc)
