"""A worker's trigger resolved: its catalog source bound to its validated settings, one typed value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, assert_never

from pydantic import BaseModel, ConfigDict

from infra.catalog import (
    QueueName,
    QueueSource,
    ResolverSource,
    ScheduleSource,
    Source,
    StreamName,
    StreamSource,
)
from infra.config.triggers import (
    QueueTriggerSettings,
    ResolverTriggerSettings,
    ScheduleTriggerSettings,
    StreamTriggerSettings,
)


class _ResolvedTrigger(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StreamTrigger(_ResolvedTrigger):
    """A Kinesis stream of the platform, read with these mapping settings."""

    kind: Literal["stream"] = "stream"
    stream: StreamName
    settings: StreamTriggerSettings


class QueueTrigger(_ResolvedTrigger):
    """An SQS queue of the platform, polled with these mapping settings."""

    kind: Literal["queue"] = "queue"
    queue: QueueName
    settings: QueueTriggerSettings


class ScheduleTrigger(_ResolvedTrigger):
    """An EventBridge schedule with these settings."""

    kind: Literal["schedule"] = "schedule"
    settings: ScheduleTriggerSettings


class ResolverTrigger(_ResolvedTrigger):
    """An AppSync field resolved with these settings."""

    kind: Literal["resolver"] = "resolver"
    type_name: Literal["Query", "Mutation"]
    field_name: str
    settings: ResolverTriggerSettings


Trigger = StreamTrigger | QueueTrigger | ScheduleTrigger | ResolverTrigger


def resolve_trigger(source: Source, given: Mapping[str, Any]) -> Trigger:
    """Validate a worker's `trigger` block with the settings model of its catalog source, bound to it."""
    match source:
        case StreamSource():
            # The catalog's filters apply unless the stack file gives its own.
            defaults = {"filterPatterns": list(source.filter_patterns)} if source.filter_patterns else {}
            return StreamTrigger(
                stream=source.stream, settings=StreamTriggerSettings.model_validate({**defaults, **given})
            )
        case QueueSource():
            return QueueTrigger(queue=source.queue, settings=QueueTriggerSettings.model_validate(given))
        case ScheduleSource():
            return ScheduleTrigger(settings=ScheduleTriggerSettings.model_validate(given))
        case ResolverSource():
            return ResolverTrigger(
                type_name=source.type_name,
                field_name=source.field_name,
                settings=ResolverTriggerSettings.model_validate(given),
            )
        case _:
            assert_never(source)
