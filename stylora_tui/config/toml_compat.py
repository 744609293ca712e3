"""TOML reading on every Python we support: `tomllib` from 3.11, the `tomli` backport on 3.10
(many rental images still ship 3.10). Writing goes through tomlkit, which keeps comments."""

from __future__ import annotations

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

loads = tomllib.loads
TOMLDecodeError = tomllib.TOMLDecodeError
