"""The stack file as written (`RawStackConfig`) and as resolved for the program (`StackConfig`)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from infra.config.base import StackModel
from infra.config.platform import PlatformSettings
from infra.config.services import BusinessRules, EmailSettings, ObservabilitySettings, VendorSettings
from infra.config.workers import WorkerConfig, WorkerDefaults, WorkerOverrides

ACCOUNT_ID = re.compile(r"^\d{12}$")
ENVIRONMENT = re.compile(r"^[a-z][a-z0-9]{1,9}$")


class RawStackConfig(StackModel):
    """The `dmd-workers:*` keys of a stack file, as written."""

    environment: str
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    account_id: str
    production: bool = False
    defaults: WorkerDefaults = WorkerDefaults()
    workers: dict[str, WorkerOverrides] = Field(default_factory=dict)
    platform: PlatformSettings = PlatformSettings()
    vendors: VendorSettings = VendorSettings()
    email: EmailSettings = EmailSettings()
    business: BusinessRules = BusinessRules()
    observability: ObservabilitySettings = ObservabilitySettings()

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str) -> str:
        if not ENVIRONMENT.match(value):
            raise ValueError(f"{value!r} must be a short lowercase name like qa1 or prod1")
        return value

    @field_validator("account_id")
    @classmethod
    def _account(cls, value: str) -> str:
        if not ACCOUNT_ID.match(value):
            raise ValueError(f"{value!r} is not a 12-digit AWS account id")
        return value


class StackConfig(StackModel):
    """Validated configuration of one stack with every worker resolved."""

    stack: str
    environment: str
    region: str
    account_id: str
    production: bool
    workers: dict[str, WorkerConfig]
    platform: PlatformSettings
    vendors: VendorSettings
    email: EmailSettings
    business: BusinessRules
    observability: ObservabilitySettings

    def worker(self, name: str) -> WorkerConfig:
        """One worker's resolved settings."""
        return self.workers[name]
