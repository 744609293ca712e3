"""Reading the kohya_ss GUI's values: string-typed numbers, blank and neutral values, the
optimizer arguments as one shell-quoted string, sd-scripts flags."""

from __future__ import annotations

import re
import shlex
from typing import Any

from stylora_tui.errors import KohyaImportError


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def neutral(value: Any) -> bool:
    """A value that asks for nothing (off, zero, empty): its absence changes no training."""
    if blank(value) or value is False:
        return True
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return True
    if isinstance(value, str):
        try:
            return float(value) == 0
        except ValueError:
            return value.strip().lower() in ("false", "none", "0")
    return False


def number(key: str, value: Any, kind: type = float) -> Any:
    if isinstance(value, bool):
        raise KohyaImportError(f"{key} = {value!r} is not a number", "fix the value in the kohya preset")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise KohyaImportError(f"{key} = {value!r} is not a number", "fix the value in the kohya preset") from None
    if kind is int:
        if not number.is_integer():
            raise KohyaImportError(f"{key} = {value!r} is not a whole number", "fix the value in the kohya preset")
        return int(number)
    return number


def arg_value(raw: str) -> Any:
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return ""
    if raw.startswith("(") and raw.endswith(")") or raw.startswith("[") and raw.endswith("]"):
        return [arg_value(part.strip()) for part in raw[1:-1].split(",") if part.strip()]
    try:
        number = float(raw)
    except ValueError:
        return raw
    return int(number) if re.fullmatch(r"-?\d+", raw) else number


def parse_optimizer_args(text: str) -> dict[str, Any]:
    """`"d0=1e-5" "decouple=True"` or `weight_decay=0.45 betas=0.9,0.99` → a dict."""
    args: dict[str, Any] = {}
    for token in shlex.split(text or ""):
        if "=" not in token:
            raise KohyaImportError(f"optimizer argument {token!r} is not key=value", "fix optimizer_args in the kohya preset")
        key, raw = token.split("=", 1)
        if "," in raw and not raw.startswith(("(", "[")):
            raw = f"({raw})"
        args[key.strip()] = arg_value(raw.strip())
    return args


def default_like(key: str, value: Any) -> bool:
    # kohya's own defaults, and LoKr's factor (-1 = unset) that a LoCon preset still carries.
    defaults = {"unit": 1, "prior_loss_weight": 1.0, "max_timestep": 1000, "clip_skip": 1, "factor": -1}
    try:
        return key in defaults and float(value) == defaults[key]
    except (TypeError, ValueError):
        return False


def additional_flags(text: str) -> list[list[str]]:
    """Split sd-scripts arguments into [--flag, values...] groups."""
    groups: list[list[str]] = []
    for token in shlex.split(text):
        if token.startswith("--") or not groups:
            groups.append([token])
        else:
            groups[-1].append(token)
    return groups
