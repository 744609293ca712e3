"""One error type per domain, each carrying a hint that tells the user how to fix it.

The CLI prints `error: <message>` and `hint: <hint>` and exits 1; nothing below the CLI
prints or exits on its own.
"""

from __future__ import annotations


class StyloraError(Exception):
    """A mistake the user can fix; never a bug (those keep their traceback)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(StyloraError):
    """A config or preset that does not validate; `problems` lists every one found."""

    def __init__(self, message: str, hint: str = "", problems: tuple = ()) -> None:
        super().__init__(message, hint)
        self.problems = tuple(problems)


class PresetError(StyloraError):
    """A preset that cannot be found, read or saved."""


class RunError(StyloraError):
    """A run that cannot be found, created or resumed."""


class DatasetError(StyloraError):
    """A dataset folder that cannot be read or used."""


class KohyaImportError(StyloraError):
    """A kohya_ss preset that cannot be imported."""


class ModelError(StyloraError):
    """A base model or VAE file that cannot be trained from."""


class TokenizerError(StyloraError):
    """A tokenizer that is not CLIP's."""


class PreflightError(StyloraError):
    """What would fail or waste hours once the trainer runs; `problems` lists every one."""

    def __init__(self, message: str, hint: str = "", problems: tuple = ()) -> None:
        super().__init__(message, hint)
        self.problems = tuple(problems)
