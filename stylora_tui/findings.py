"""Findings: problems collected by a check instead of raised one at a time.

Codes are stable strings (documented in docs/FINDINGS.md for the dataset doctor and
docs/CONFIG.md for config problems); the UI groups by severity and the JSON output
carries them unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    message: str
    hint: str = ""
    path: str = ""

    def to_json(self) -> dict:
        data = asdict(self)
        data["severity"] = self.severity.value
        return data
