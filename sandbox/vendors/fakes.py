"""The four vendor fakes together: where they listen, their faults, and what the stack needs to reach them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from sandbox.clock import SandboxClock
from sandbox.vendors.accounts import ACCOUNTS_API_KEY, Accounts
from sandbox.vendors.bitly import BITLY_TOKEN, Bitly
from sandbox.vendors.discovery import DISCOVERY_API_KEY, Discovery
from sandbox.vendors.faults import NO_FAULTS, VENDORS, FaultPlan, VendorFaults
from sandbox.vendors.server import HOST, VendorServer
from sandbox.vendors.sms import DEFAULT_HANG_SECONDS, SMS_API_KEY, SmsService
from sandbox.vendors.status_events import DEFAULT_DELAYS, SmsStatusDelays, StatusPublisher


@dataclass(frozen=True)
class VendorPorts:
    """Where the fakes listen: the ports of the stack's vendor URLs, or 0 for free ones."""

    sms: int = 0
    bitly: int = 0
    discovery: int = 0
    accounts: int = 0

    @classmethod
    def of_urls(cls, *, sms: str, bitly: str, discovery: str, accounts: str) -> VendorPorts:
        """The ports the stack's vendor URLs name (e.g. Pulumi.local.yaml's 127.0.0.1:4571…)."""

        def port(url: str) -> int:
            parts = urlsplit(url)
            if parts.hostname not in (HOST, "localhost") or parts.port is None:
                raise ValueError(
                    f"vendor URL {url} is not on {HOST}:PORT: the sandbox's fakes cannot serve it"
                )
            return parts.port

        return cls(sms=port(sms), bitly=port(bitly), discovery=port(discovery), accounts=port(accounts))


# Function environment variable → the fake whose URL it holds.
URL_VARIABLES: Final[Mapping[str, str]] = {
    "SMS_SERVICE_URL": "sms",
    "BITLY_URL": "bitly",
    "DISCOVERY_URL": "discovery",
    "ACCOUNTS_URL": "accounts",
}


class VendorFakes:
    """The four fakes, their faults and the SMS status publisher; `with VendorFakes(clock=…) as fakes:`."""

    def __init__(
        self,
        *,
        clock: SandboxClock,
        ports: VendorPorts = VendorPorts(),
        faults: FaultPlan = NO_FAULTS,
        seed: int = 0,
        delays: SmsStatusDelays = DEFAULT_DELAYS,
        hang_seconds: float = DEFAULT_HANG_SECONDS,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.faults = {vendor: VendorFaults(vendor, clock=clock, seed=seed) for vendor in VENDORS}
        self.publisher = StatusPublisher(clock)
        self.sms = SmsService(
            port=ports.sms,
            faults=self.faults["sms"],
            clock=clock,
            publisher=self.publisher,
            delays=delays,
            hang_seconds=hang_seconds,
            seed=seed,
        )
        self.bitly = Bitly(port=ports.bitly, faults=self.faults["bitly"])
        self.discovery = Discovery(port=ports.discovery, faults=self.faults["discovery"])
        self.accounts = Accounts(port=ports.accounts, faults=self.faults["accounts"])
        self.configure_faults(faults)

    @property
    def servers(self) -> tuple[VendorServer, ...]:
        """The four fakes."""
        return (self.sms, self.bitly, self.discovery, self.accounts)

    def start(self) -> VendorFakes:
        """Serve all four and start the status publisher."""
        for server in self.servers:
            server.start()
        self.publisher.start()
        return self

    def stop(self) -> None:
        """Stop the publisher and the servers; idempotent."""
        self.publisher.stop()
        for server in self.servers:
            server.stop()

    def __enter__(self) -> VendorFakes:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def configure_faults(self, plan: FaultPlan, *, anchor: float | None = None) -> None:
        """Apply a fault plan to every vendor (outage windows from `anchor`, default now)."""
        self.plan = plan
        for faults in self.faults.values():
            faults.configure(plan, anchor=anchor)

    def clear_faults(self) -> None:
        """No faults and no scripted replies anywhere from now on."""
        self.plan = FaultPlan()
        for faults in self.faults.values():
            faults.clear()
        for server in self.servers:
            server.clear_replies()

    def urls(self) -> dict[str, str]:
        """Each vendor's base URL, by fake name."""
        return {
            "sms": self.sms.url,
            "bitly": self.bitly.url,
            "discovery": self.discovery.url,
            "accounts": self.accounts.url,
        }

    def environment_overrides(self) -> dict[str, str]:
        """The functions' vendor URL variables pointed at these fakes (for fakes on free ports)."""
        urls = self.urls()
        return {variable: urls[vendor] for variable, vendor in URL_VARIABLES.items()}

    @staticmethod
    def secret_values() -> dict[str, dict[str, str]]:
        """What each vendor secret must hold for the fakes to accept it, by the secret name's last segment."""
        return {
            "sms-service": {"apiKey": SMS_API_KEY},
            "bitly": {"token": BITLY_TOKEN},
            "discovery": {"apiKey": DISCOVERY_API_KEY},
            "accounts": {"apiKey": ACCOUNTS_API_KEY},
        }

    def counters(self) -> dict[str, Any]:
        """Every fake's counts, plus the SMS acceptances, the SMS sent and the published statuses."""
        report = {server.vendor: server.counters.snapshot() for server in self.servers}
        report["sms"]["accepted"] = sum(self.sms.accepted.values())
        report["sms"]["acceptedReferences"] = len(self.sms.accepted)
        report["sms"]["sent"] = sum(self.sms.sends.values())
        report["sms"]["duplicateSends"] = sum(self.sms.duplicates().values())
        report["sms"]["deduplicating"] = self.sms.deduplicate
        report["sms"]["statusEventsPublished"] = dict(self.publisher.published)
        report["sms"]["statusEventsPending"] = self.publisher.pending
        report["sms"]["statusEventsDuplicated"] = dict(self.publisher.duplicated)
        return report
