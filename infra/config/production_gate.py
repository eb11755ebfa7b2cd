"""The production deploy gate: placeholders left in a stack file, and what a production stack must have.

Pure: the stack file's values (as `infra.stack_files.stack_file_values` reads them) and the validated
`StackConfig` in, problems out. `dmd config validate --strict` prints them, and CI runs it before
`pulumi preview`/`pulumi up` of prod1.

- Placeholders (`PLACEHOLDER_RULES`, the one list) are looked for in every value of the file, nested
  lists and mappings included; they are reported for every stack and fail production stacks only
  (qa1 and local legitimately point at reserved domains and fake ids).
- Requirements (`production: true` only): a paging subscription on the alarm topic, a customer KMS
  key, the WAF on the public API, point-in-time recovery, deletion protection.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from infra.config.base import PROJECT
from infra.config.stack import StackConfig

# Alarm-topic protocols that reach a person on call (a PagerDuty/Opsgenie https integration, a text).
PAGING_PROTOCOLS: Final = ("https", "sms")
# Domains reserved for documentation (RFC 2606 / RFC 6761): nothing real is ever reached there.
RESERVED_DOMAINS: Final = ("example.com", "example.net", "example.org")
RESERVED_TOP_LEVEL: Final = ("invalid", "example", "test", "localhost")
# Account ids that are samples, not accounts: the AWS documentation's (also moto's default), the
# template's own, and any id of one repeated digit (the vendor roles' stand-ins, 111111111111 …).
SAMPLE_ACCOUNT_IDS: Final = frozenset({"123456789012", "210987654321"})
# The made-up hex runs of the committed templates' subnet and security-group ids.
SAMPLE_RESOURCE_ID_RUNS: Final = ("0f1e2d3c4b5a6", "0a1b2c3d4e5f6")

_HOST: Final = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_ACCOUNT: Final = re.compile(r"(?<!\d)\d{12}(?!\d)")
_RESOURCE_ID: Final = re.compile(rf"\b[a-z]+-(?:{'|'.join(SAMPLE_RESOURCE_ID_RUNS)})[0-9a-f]*\b")
_REPLACE_ME: Final = re.compile(r"REPLACE[_-]?ME", re.IGNORECASE)


@dataclass(frozen=True)
class GateProblem:
    """One thing the gate found: the full key path, the rule, the value, and whether it fails the stack."""

    key: str
    rule: str
    value: str
    message: str
    failing: bool

    def line(self, stack_file: str) -> str:
        """The problem as one line, in the format of the config validation errors."""
        return f"{stack_file}: {self.key}: {self.message}"


@dataclass(frozen=True)
class PlaceholderRule:
    """A kind of placeholder: its rule name, what it is called in a message, how it is found in a text."""

    rule: str
    label: str
    find: Callable[[str], list[str]]


def _replace_me(text: str) -> list[str]:
    return _REPLACE_ME.findall(text)


def _reserved_domains(text: str) -> list[str]:
    found = []
    for host in _HOST.findall(text):
        name = host.lower()
        reserved = name.rsplit(".", 1)[-1] in RESERVED_TOP_LEVEL or any(
            name == domain or name.endswith(f".{domain}") for domain in RESERVED_DOMAINS
        )
        if reserved:
            found.append(name)
    return found


def _sample_accounts(text: str) -> list[str]:
    return [
        account
        for account in _ACCOUNT.findall(text)
        if account in SAMPLE_ACCOUNT_IDS or len(set(account)) == 1
    ]


def _sample_resource_ids(text: str) -> list[str]:
    return _RESOURCE_ID.findall(text)


PLACEHOLDER_RULES: Final = (
    PlaceholderRule("placeholder-text", "placeholder", _replace_me),
    PlaceholderRule("reserved-domain", "placeholder domain", _reserved_domains),
    PlaceholderRule("sample-account-id", "placeholder account id", _sample_accounts),
    PlaceholderRule("sample-resource-id", "placeholder resource id", _sample_resource_ids),
)
PLACEHOLDER_RULE_NAMES: Final = frozenset(rule.rule for rule in PLACEHOLDER_RULES)


def _leaves(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(key path, text) of every scalar under `value`; list items as `key[i]`, as `pulumi config --path`."""
    if isinstance(value, Mapping):
        # A `pulumi config set --secret` value: encrypted, so nothing to read here.
        if set(value) == {"secure"}:
            return
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    elif value is not None and not isinstance(value, bool):
        yield path, str(value)


def _full_key(name: str) -> str:
    # stack_file_values keeps aws:region as `region`, every other key without its project namespace.
    return "aws:region" if name == "region" else f"{PROJECT}:{name}"


def placeholders(values: Mapping[str, Any], *, failing: bool) -> list[GateProblem]:
    """Every placeholder in the stack file's values, one problem per key and rule, in file order."""
    problems = []
    for name, value in values.items():
        for key, text in _leaves(value, _full_key(name)):
            for rule in PLACEHOLDER_RULES:
                found = list(dict.fromkeys(rule.find(text)))
                if found:
                    shown = ", ".join(f'"{item}"' for item in found)
                    problems.append(GateProblem(key, rule.rule, text, f"{rule.label} {shown}", failing))
    return problems


_ABSENT: Final = object()


def _setting(model: Any, attribute: str, raw: Any, key: str) -> Any:
    """A setting from the validated model when it has the field, else from the raw stack-file value."""
    if model is not None and attribute in type(model).model_fields:
        return getattr(model, attribute)
    return raw.get(key, _ABSENT) if isinstance(raw, Mapping) else _ABSENT


def _field(value: Any, attribute: str, key: str) -> Any:
    """One field of a model or a raw mapping (None when absent)."""
    if isinstance(value, Mapping):
        return value.get(key)
    return getattr(value, attribute, None)


def _paging(config: StackConfig) -> list[GateProblem]:
    subscriptions = config.platform.alarm_topic.subscriptions
    if any(subscription.protocol in PAGING_PROTOCOLS for subscription in subscriptions):
        return []
    protocols = ", ".join(subscription.protocol for subscription in subscriptions) or "none"
    return [
        GateProblem(
            f"{PROJECT}:platform.alarmTopic.subscriptions",
            "paging-subscription",
            protocols,
            f"production needs a paging subscription (protocol {' or '.join(PAGING_PROTOCOLS)}); "
            f"the alarm topic has: {protocols}",
            True,
        )
    ]


def _kms(config: StackConfig, raw_platform: Any) -> list[GateProblem]:
    kms = _setting(config.platform, "kms", raw_platform, "kms")
    present = kms is not _ABSENT and kms is not None
    if present and (_field(kms, "create", "create") is True or _field(kms, "key_arn", "keyArn")):
        return []
    return [
        GateProblem(
            f"{PROJECT}:platform.kms",
            "kms-key",
            "none" if kms is _ABSENT or kms is None else str(kms),
            "production needs a customer-managed KMS key (platform.kms: create: true, or keyArn)",
            True,
        )
    ]


def _waf(config: StackConfig, raw_platform: Any) -> list[GateProblem]:
    api = _setting(config.platform, "api", raw_platform, "api")
    waf = None if api is _ABSENT or api is None else _field(api, "waf", "waf")
    if waf is not None and _field(waf, "enabled", "enabled") is True:
        return []
    return [
        GateProblem(
            f"{PROJECT}:platform.api.waf.enabled",
            "waf",
            "none" if waf is None else str(_field(waf, "enabled", "enabled")),
            "production needs the WAF web ACL on the public API (platform.api.waf.enabled: true)",
            True,
        )
    ]


def _point_in_time_recovery(config: StackConfig) -> list[GateProblem]:
    if config.platform.table.point_in_time_recovery:
        return []
    return [
        GateProblem(
            f"{PROJECT}:platform.table.pointInTimeRecovery",
            "point-in-time-recovery",
            "false",
            "production needs point-in-time recovery of the demand table",
            True,
        )
    ]


def _deletion_protection(config: StackConfig, raw_platform: Any) -> list[GateProblem]:
    # The program turns table deletion protection (and Pulumi `protect`) on from `production: true`
    # (infra/table.py); a table key, if one is ever added, may only confirm it.
    raw_table = raw_platform.get("table") if isinstance(raw_platform, Mapping) else None
    explicit = _setting(config.platform.table, "deletion_protection", raw_table, "deletionProtection")
    if explicit is _ABSENT or explicit is None or explicit is True:
        return []
    return [
        GateProblem(
            f"{PROJECT}:platform.table.deletionProtection",
            "deletion-protection",
            str(explicit),
            "production needs deletion protection on the demand table",
            True,
        )
    ]


def production_requirements(config: StackConfig, values: Mapping[str, Any]) -> list[GateProblem]:
    """What a production stack lacks (nothing for a stack that is not production)."""
    if not config.production:
        return []
    raw_platform = values.get("platform") or {}
    return [
        *_paging(config),
        *_kms(config, raw_platform),
        *_waf(config, raw_platform),
        *_point_in_time_recovery(config),
        *_deletion_protection(config, raw_platform),
    ]


@dataclass(frozen=True)
class GateReport:
    """The gate's verdict on one stack."""

    stack: str
    production: bool
    problems: tuple[GateProblem, ...]

    @property
    def passed(self) -> bool:
        """No problem fails the stack (placeholders of a non-production stack are only reported)."""
        return not any(problem.failing for problem in self.problems)


def production_gate(config: StackConfig, values: Mapping[str, Any]) -> GateReport:
    """Placeholders anywhere in the stack file's `values`, then the production requirements."""
    problems = placeholders(values, failing=config.production) + production_requirements(config, values)
    return GateReport(config.stack, config.production, tuple(problems))
