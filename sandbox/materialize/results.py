"""What materializing a graph produced: the entries created, skipped and dropped, and the CDC routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What a created entry names; `Materialized.of(kind)` maps physical names to ARNs, URLs or ids."""

    TABLE = "table"
    TABLE_STREAM = "table-stream"
    STREAM = "stream"
    KINESIS_DESTINATION = "kinesis-destination"
    QUEUE = "queue"
    QUEUE_URL = "queue-url"
    QUEUE_POLICY = "queue-policy"
    REDRIVE_ALLOW_POLICY = "redrive-allow-policy"
    TOPIC = "topic"
    SUBSCRIPTION = "subscription"
    KMS_KEY = "kms-key"
    KMS_ALIAS = "kms-alias"
    SECRET = "secret"  # noqa: S105 - a resource kind
    LOG_GROUP = "log-group"
    LOG_SUBSCRIPTION = "log-subscription"
    QUERY_DEFINITION = "query-definition"
    ROLE = "role"
    ROLE_POLICY = "role-policy"
    LAYER = "layer"
    FUNCTION = "function"
    ALIAS = "alias"
    EVENT_SOURCE_MAPPING = "event-source-mapping"
    PERMISSION = "permission"
    RULE = "rule"
    RULE_TARGET = "rule-target"
    ALARM = "alarm"
    DASHBOARD = "dashboard"
    EMAIL_TEMPLATE = "email-template"
    GRAPHQL_API = "graphql-api"
    GRAPHQL_DATA_SOURCE = "graphql-data-source"
    GRAPHQL_RESOLVER = "graphql-resolver"


@dataclass(frozen=True)
class Created:
    """One thing the emulator now holds: a resource's physical name and its ARN, URL or id."""

    type_: str
    name: str
    kind: Kind
    key: str
    ref: str


@dataclass(frozen=True)
class Skipped:
    """A graph resource the emulator does not hold, and why."""

    type_: str
    name: str
    reason: str


@dataclass(frozen=True)
class DroppedField:
    """A field sent to the emulator that reads back absent (`stored` None) or different."""

    type_: str
    name: str
    field: str
    sent: Any
    stored: Any


@dataclass(frozen=True)
class CdcRoute:
    """A DynamoDB table whose changes a tailer must copy into a Kinesis stream (moto cannot)."""

    table: str
    table_stream_arn: str
    kinesis_stream_arn: str


@dataclass
class Materialized:
    """What `materialize` created, skipped, and saw dropped."""

    created: list[Created] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    dropped: list[DroppedField] = field(default_factory=list)
    cdc_routes: list[CdcRoute] = field(default_factory=list)
    # Logical name → the resolved CreateEventSourceMapping request, for the sandbox's own pollers.
    event_source_mappings: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of(self, kind: Kind) -> dict[str, str]:
        """Physical name → ARN/URL/id for one kind, e.g. `of(Kind.QUEUE_URL)`."""
        return {entry.key: entry.ref for entry in self.created if entry.kind == kind}

    def ref(self, kind: Kind, key: str) -> str:
        """The ARN/URL/id of one created thing; KeyError names what exists when it is absent."""
        refs = self.of(kind)
        if key not in refs:
            raise KeyError(f"no {kind.value} named {key!r} (have: {', '.join(sorted(refs)) or 'none'})")
        return refs[key]

    @property
    def created_names(self) -> set[str]:
        """Logical names of the graph resources that were created."""
        return {entry.name for entry in self.created}


class MaterializeError(Exception):
    """A resource could not be created for a reason other than an emulator limitation."""
