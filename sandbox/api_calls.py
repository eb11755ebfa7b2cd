"""The AWS API calls a sandbox run made, as the emulator counted them: by kind, by caller, and SES sends."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs

from sandbox.emulator import CountedCalls

SEND_EMAIL: Final = "SendTemplatedEmail"
KEPT_OPERATIONS: Final = (SEND_EMAIL,)  # whole requests kept while counting: the email duplicates check


@dataclass(frozen=True)
class ApiCall:
    """A kind of AWS API call the emulator received: service, operation, and who made it."""

    service: str
    operation: str
    by_workers: bool


@dataclass(frozen=True)
class ApiCalls:
    """The calls counted over a run: how many of each kind, and the bodies of the SES sends."""

    counts: Counter[ApiCall]
    email_bodies: list[str]

    @classmethod
    def of(cls, counted: CountedCalls, *, sandbox_appid: str) -> ApiCalls:
        """The emulator's counts, split by caller: the sandbox's own calls carry `sandbox_appid`."""
        calls: Counter[ApiCall] = Counter()
        for (service, operation, app), count in counted.counts.items():
            calls[ApiCall(service, operation, by_workers=app != sandbox_appid)] += count
        return cls(calls, email_bodies=counted.bodies(SEND_EMAIL))

    def total(self, *, by_workers: bool) -> int:
        """How many calls the workers (or the sandbox itself) made."""
        return sum(count for call, count in self.counts.items() if call.by_workers == by_workers)

    def of_workers(self) -> Counter[ApiCall]:
        """The workers' calls only."""
        return Counter({call: count for call, count in self.counts.items() if call.by_workers})

    def of_sandbox(self) -> Counter[ApiCall]:
        """The sandbox's own calls only (pollers, CDC, the fakes' status events, seeding)."""
        return Counter({call: count for call, count in self.counts.items() if not call.by_workers})


def count_calls(calls: Mapping[ApiCall, int]) -> Counter[str]:
    """`service:Operation` → how many calls."""
    counts: Counter[str] = Counter()
    for call, count in calls.items():
        counts[f"{call.service}:{call.operation}"] += count
    return counts


def email_sends(bodies: Iterable[str]) -> Counter[tuple[str, str, str]]:
    """SendTemplatedEmail request bodies kept by the emulator, by (recipient, template, template data)."""
    sends: Counter[tuple[str, str, str]] = Counter()
    for text in bodies:
        form = parse_qs(text)
        if form.get("Action") != [SEND_EMAIL]:
            continue
        recipient = (form.get("Destination.ToAddresses.member.1") or [""])[0]
        sends[(recipient, (form.get("Template") or [""])[0], (form.get("TemplateData") or [""])[0])] += 1
    return sends
