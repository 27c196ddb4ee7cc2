"""Problems found in rule files, collected and reported together."""

from __future__ import annotations

from enum import StrEnum

from jdm_cds.language.records import Record
from jdm_cds.language.rule_types import Mark


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Diagnostic(Record):
    """One problem at one place; ``code`` is stable so that tests and tools can match it."""

    severity: Severity
    code: str
    message: str
    mark: Mark

    def __str__(self) -> str:
        return f"{self.mark}: {self.severity.value}: {self.message} [{self.code}]"


class RuleLoadError(Exception):
    """Rule files have errors; the engine refuses to start rather than drop clinical rules."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics))
