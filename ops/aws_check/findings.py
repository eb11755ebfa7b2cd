"""What one check of one deployed resource found, and the helper that builds a resource's findings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

NOT_REPORTED: Final = "not reported by the endpoint"


class Status(StrEnum):
    """The outcome of one check."""

    OK = "OK"
    MISSING = "MISSING"
    DRIFT = "DRIFT"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class Finding:
    """One check of one deployed resource, with what the program expects and what AWS holds."""

    kind: str
    resource: str
    check: str
    status: Status
    expected: str = ""
    actual: str = ""

    @property
    def failed(self) -> bool:
        """MISSING and DRIFT fail the check; SKIPPED (a field the endpoint does not report) does not."""
        return self.status in (Status.MISSING, Status.DRIFT)


def show(value: Any) -> str:
    """A value as a finding shows it: none, true/false, comma-separated items, or its text."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(show(item) for item in value) or "none"
    return str(value)


@dataclass(frozen=True)
class ResourceFindings:
    """Builds the findings of one resource, each with the resource's kind and name."""

    kind: str
    resource: str

    def finding(self, check: str, status: Status, expected: str, actual: str) -> Finding:
        """A finding as given."""
        return Finding(self.kind, self.resource, check, status, expected, actual)

    def present(self) -> Finding:
        """The resource exists."""
        return self.finding("exists", Status.OK, "present", "present")

    def absent(self, expected: str = "present", actual: str = "absent") -> Finding:
        """The resource does not exist (or not where the program put it)."""
        return self.finding("exists", Status.MISSING, expected, actual)

    def field(self, check: str, expected: Any, actual: Any) -> Finding:
        """OK when the values are equal, else DRIFT; both shown."""
        status = Status.OK if expected == actual else Status.DRIFT
        return self.finding(check, status, show(expected), show(actual))

    def reported(self, check: str, expected: Any, *, deployed: Mapping[str, Any], key: str) -> Finding:
        """A field AWS always reports: its absence means the endpoint (an emulator) does not store it."""
        if key not in deployed:
            return self.finding(check, Status.SKIPPED, show(expected), NOT_REPORTED)
        return self.field(check, expected, deployed[key])
