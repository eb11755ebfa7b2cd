"""A worker's trigger is resolved once, at load: its catalog source bound to settings of the matching kind."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.catalog import (
    CATALOG,
    NOTIFICATION_SEND_FILTERS,
    QueueSource,
    ResolverSource,
    ScheduleSource,
    StreamSource,
    catalog_by_name,
)
from infra.config import (
    QueueTrigger,
    QueueTriggerSettings,
    ResolverTrigger,
    ScheduleTrigger,
    StreamTrigger,
    StreamTriggerSettings,
    resolve_trigger,
)
from infra.stack_files import load_committed

KIND_OF_SOURCE = {
    StreamSource: StreamTrigger,
    QueueSource: QueueTrigger,
    ScheduleSource: ScheduleTrigger,
    ResolverSource: ResolverTrigger,
}


@pytest.mark.parametrize("stack", ["local", "qa1", "prod1"])
def test_every_worker_is_resolved_to_the_trigger_of_its_catalog_source(stack: str) -> None:
    # Given a committed stack
    # When it is loaded
    workers = load_committed(stack).workers

    # Then each worker's trigger has the kind of its source and names what the source names
    for spec in CATALOG:
        trigger = workers[spec.name].resolved_trigger
        assert type(trigger) is KIND_OF_SOURCE[type(spec.source)], spec.name
        match spec.source:
            case StreamSource(stream=stream):
                assert isinstance(trigger, StreamTrigger) and trigger.stream == stream
            case QueueSource(queue=queue):
                assert isinstance(trigger, QueueTrigger) and trigger.queue == queue
            case ResolverSource(type_name=type_name, field_name=field_name):
                assert isinstance(trigger, ResolverTrigger)
                assert (trigger.type_name, trigger.field_name) == (type_name, field_name)


def test_a_resolved_trigger_refuses_settings_of_another_kind() -> None:
    # Given queue settings
    # When they are bound to a stream
    # Then the trigger cannot be built: source and settings can never disagree
    with pytest.raises(ValidationError):
        StreamTrigger(stream="table", settings=QueueTriggerSettings())  # type: ignore[arg-type]


def test_a_stream_source_brings_its_catalog_filters_unless_the_stack_file_gives_its_own() -> None:
    # Given notification_send's source, which filters the table's changes
    source = catalog_by_name()["notification_send"].source

    # When its trigger is resolved without and with filter patterns of the stack file
    default = resolve_trigger(source, {})
    own = resolve_trigger(source, {"filterPatterns": ['{"data": {"eventName": ["INSERT"]}}']})

    # Then the catalog's filters apply only when the file gives none
    assert default == StreamTrigger(
        stream="table", settings=StreamTriggerSettings(filter_patterns=NOTIFICATION_SEND_FILTERS)
    )
    assert isinstance(own, StreamTrigger)
    assert own.settings.filter_patterns == ({"data": {"eventName": ["INSERT"]}},)


def test_resolving_reports_a_bad_setting_at_its_key_within_the_trigger_block() -> None:
    # Given a queue source and a batch size SQS refuses
    source = catalog_by_name()["shorten_event_url"].source

    # When its trigger is resolved
    with pytest.raises(ValidationError) as raised:
        resolve_trigger(source, {"batchSize": 0})

    # Then the error is located at that key, relative to the trigger block
    assert [error["loc"] for error in raised.value.errors()] == [("batchSize",)]
