"""Building a config in layers: the schema's defaults, then a preset (a partial config),
then the user's edits (wizard fields or `--set key=value`). Every layer goes through
`merge`, which reports every problem it finds (unknown keys with a did-you-mean hint,
wrong types, out-of-range values, conflicts) instead of stopping at the first, each with
the layer it came from.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import fields, replace
from typing import Any
from urllib.parse import urlsplit

from stylora_tui.config import toml_compat as tomllib
from stylora_tui.config.rules import cross_check, problem
from stylora_tui.config.schema import SCHEMA_VERSION, SECTIONS, Config, all_keys
from stylora_tui.errors import ConfigError
from stylora_tui.findings import Finding

# ---------------------------------------------------------------- parsing values

NUMBER_LISTS = ("samples.suggest_strengths",)  # lists of numbers, each held to the key's min and max


def _kind(section_cls: type, name: str) -> str:
    annotation = {f.name: f.type for f in fields(section_cls)}[name]
    return str(annotation).replace(" ", "")


def _coerce(key: str, kind: str, value: Any, problems: list[Finding]) -> Any:
    """Check a TOML value against the field's type; return the stored form or None."""

    def wrong(expected: str) -> None:
        problems.append(
            problem("config-type", key, f"{key} must be {expected}, got {value!r}", f"write it like: {_example(kind, key)}")
        )

    if kind == "bool":
        if isinstance(value, bool):
            return value
        return wrong("true or false")
    if kind == "bool|str":
        # A switch that may also follow the model ("auto").
        if isinstance(value, bool) or value == "auto":
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return wrong('true, false or "auto"')
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return wrong("a whole number")
    if kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        return wrong("a number")
    if kind == "str":
        if isinstance(value, str):
            return value
        return wrong("a string")
    if kind in ("tuple", "tuple|None"):
        if key == "dataset.resolution_px":
            if isinstance(value, int) and not isinstance(value, bool):
                return (value, value)
            if (
                isinstance(value, (list, tuple))
                and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            ):
                return (value[0], value[1])
            return wrong("a number or [width, height]")
        if key in NUMBER_LISTS:
            if isinstance(value, (list, tuple)) and all(_number(v) for v in value):
                return tuple(sorted({float(v) for v in value}, reverse=True))
            return wrong("a list of numbers")
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(v.strip() for v in value if v.strip())
        return wrong("a list of strings")
    if kind == "dict":
        if isinstance(value, dict):
            return dict(value)
        return wrong("a table")
    raise AssertionError(f"unhandled config kind {kind} for {key}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _example(kind: str, key: str = "") -> str:
    if key in NUMBER_LISTS:
        return "[0.6, 0.8, 1.0]"
    return {
        "bool": "true",
        "bool|str": '"auto"',
        "int": "10",
        "float": "0.01",
        "str": '"text"',
        "tuple": '["a", "b"]',
        "tuple|None": '["a", "b"]',
        "dict": "{ key = 1 }",
    }.get(kind, "")


def _check_rules(key: str, value: Any, rules: dict, problems: list[Finding]) -> None:
    values = value if isinstance(value, tuple) and (key == "dataset.resolution_px" or key in NUMBER_LISTS) else (value,)
    for v in values:
        if "choices" in rules and v not in rules["choices"]:
            choices = ", ".join(str(c) for c in rules["choices"])
            close = difflib.get_close_matches(str(v), [str(c) for c in rules["choices"]], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(
                problem("config-choice", key, f"{key} = {v!r} is not one of: {choices}", f"{hint}choose one of: {choices}")
            )
            return
        if "min" in rules and v < rules["min"]:
            problems.append(
                problem(
                    "config-range",
                    key,
                    f"{key} = {v} is below the minimum {rules['min']}",
                    f"use a value of at least {rules['min']}",
                )
            )
            return
        if "max" in rules and v > rules["max"]:
            problems.append(
                problem(
                    "config-range",
                    key,
                    f"{key} = {v} is above the maximum {rules['max']}",
                    f"use a value of at most {rules['max']}",
                )
            )
            return
        if "gt" in rules and not v > rules["gt"]:
            problems.append(
                problem("config-range", key, f"{key} = {v} must be greater than {rules['gt']}", "use a positive value")
            )
            return
        if rules.get("url") and v and http_url_problem(v):
            problems.append(
                problem(
                    "config-type",
                    key,
                    f"{key} = {v!r} {http_url_problem(v)}",
                    'write the full address, e.g. "https://ntfy.sh/my-stylora-runs"',
                )
            )
            return
        if rules.get("pattern") and not re.fullmatch(rules["pattern"], v):
            problems.append(problem("config-type", key, f"{key} = {v!r} {rules['pattern_says']}", rules["pattern_hint"]))
            return
        if rules.get("multiple_of") and v % rules["multiple_of"]:
            m = rules["multiple_of"]
            lower, upper = v - v % m, v - v % m + m
            problems.append(problem("config-range", key, f"{key} = {v} is not a multiple of {m}", f"use {lower} or {upper}"))
            return


def http_url_problem(url: str) -> str:
    """'' for an http(s) address with a host, else what is wrong with it. Every URL a run
    posts to passes here, from a config or the environment: urllib would also open file://
    (reading a local file) and ftp://, and a malformed host raises instead of failing."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        return f"is not a valid address ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"is not an http(s) address (scheme {parts.scheme or 'missing'!r})"
    if not parts.hostname:
        return "has no host"
    if any(ord(c) < 33 or ord(c) == 127 for c in url.strip()):
        return "holds spaces or control characters"
    return ""


def _unknown_key_hint(key: str, section: str | None) -> str:
    leaf = key.rsplit(".", 1)[-1]
    elsewhere = [k for k in all_keys() if k.endswith("." + leaf)]
    if elsewhere:
        # The right name in the wrong section (e.g. `conv_alpha` under [training]).
        return f"did you mean {elsewhere[0]!r}? ({leaf} belongs in [{elsewhere[0].split('.')[0]}])"
    candidates = all_keys() if section is None else [f"{section}.{f.name}" for f in fields(SECTIONS[section])]
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(key, all_keys(), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "see docs/CONFIG.md for every key"


def _merge_section(section: str, current: Any, data: Any, problems: list[Finding]) -> Any:
    cls = SECTIONS[section]
    if not isinstance(data, dict):
        problems.append(
            problem(
                "config-type",
                section,
                f"[{section}] must be a table of settings",
                f"write it as [{section}] followed by key = value lines",
            )
        )
        return current
    known = {f.name: f for f in fields(cls)}
    updates = {}
    for name, value in data.items():
        key = f"{section}.{name}"
        if name not in known:
            problems.append(problem("config-unknown-key", key, f"unknown setting {key}", _unknown_key_hint(key, section)))
            continue
        coerced = _coerce(key, _kind(cls, name), value, problems)
        if coerced is None:
            continue
        _check_rules(key, coerced, dict(known[name].metadata), problems)
        updates[name] = coerced
    return replace(current, **updates)


def merge(base: Config, data: dict, problems: list[Finding]) -> Config:
    """Overlay a (partial) config mapping onto `base`, appending every problem to `problems`."""
    sections = {}
    for name, value in data.items():
        if name == "schema_version":
            if value != SCHEMA_VERSION:
                problems.append(
                    problem(
                        "config-schema-version",
                        "schema_version",
                        f"schema_version {value!r} is not supported (this stylora-tui reads {SCHEMA_VERSION})",
                        "upgrade stylora-tui, or re-create the file from a shipped preset",
                    )
                )
            continue
        if name not in SECTIONS:
            hint = _unknown_key_hint(name, None) if "." in name else ""
            close = difflib.get_close_matches(name, list(SECTIONS), n=1)
            if close:
                hint = f"did you mean [{close[0]}]?"
            elif not hint:
                hint = "sections are: " + ", ".join(f"[{s}]" for s in SECTIONS)
            problems.append(problem("config-unknown-key", name, f"unknown section or key {name!r}", hint))
            continue
        sections[name] = _merge_section(name, getattr(base, name), value, problems)
    return replace(base, **sections)


# ---------------------------------------------------------------- entry points


def build_config(*layers: dict, total_steps: int | None = None, source: str = "config", sources: tuple[str, ...] = ()) -> Config:
    """Defaults, then each layer in order; raise ConfigError listing every problem, each
    with the layer it came from (`sources`, one per layer; else `source` for all)."""
    problems: list[tuple[str, Finding]] = []
    config = Config()
    for index, layer in enumerate(layers):
        found: list[Finding] = []
        config = merge(config, layer, found)
        origin = sources[index] if index < len(sources) else source
        problems.extend((origin, f) for f in found)
    if not problems:
        problems.extend((source if not sources else "the combined settings", f) for f in cross_check(config, total_steps))
    if problems:
        raise config_error(problems)
    return config


def config_error(problems: list[tuple[str, Finding]]) -> ConfigError:
    """One error naming every problem and where it came from (a preset, your --set, ...)."""
    first_source, first = problems[0]
    if len(problems) == 1:
        return ConfigError(f"{first_source}: {first.message}", first.hint, tuple(f for _, f in problems))
    lines = "".join(f"\n  {origin}: {f.message} (hint: {f.hint})" for origin, f in problems)
    return ConfigError(f"{len(problems)} config problems:{lines}", "fix each one above", tuple(f for _, f in problems))


def parse_override(assignment: str) -> dict:
    """`training.epochs=30` → {"training": {"epochs": 30}}; the value is read as TOML, else as a string."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r} is not KEY=VALUE", "write it like --set training.epochs=30")
    key, raw = (part.strip() for part in assignment.split("=", 1))
    if key.count(".") != 1:
        raise ConfigError(f"--set key {key!r} must be section.name", _unknown_key_hint(key, None))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    section, name = key.split(".")
    return {section: {name: value}}
