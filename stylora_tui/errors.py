"""One error type per domain, each carrying a hint that tells the user how to fix it.

The CLI prints `error: <message>` and `hint: <hint>` and exits 1; nothing below the CLI
prints or exits on its own.
"""

from __future__ import annotations


class StyloraError(Exception):
    """A mistake the user can fix; never a bug (those keep their traceback)."""

    title = "error"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(StyloraError):
    """A config or preset that does not validate; `problems` lists every one found."""

    title = "config error"

    def __init__(self, message: str, hint: str = "", problems: tuple = ()) -> None:
        super().__init__(message, hint)
        self.problems = tuple(problems)


class PresetError(StyloraError):
    title = "preset error"


class RunError(StyloraError):
    title = "run error"


class DatasetError(StyloraError):
    title = "dataset error"


class KohyaImportError(StyloraError):
    title = "kohya import error"


class ModelError(StyloraError):
    title = "model error"


class TokenizerError(StyloraError):
    title = "tokenizer error"


class PreflightError(StyloraError):
    """What would fail or waste hours once the trainer runs; `problems` lists every one."""

    title = "pre-flight check"

    def __init__(self, message: str, hint: str = "", problems: tuple = ()) -> None:
        super().__init__(message, hint)
        self.problems = tuple(problems)
