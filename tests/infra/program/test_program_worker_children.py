"""Each Worker component holds exactly the children its catalog source and settings imply."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from infra.catalog import CATALOG, WorkerSpec
from tests.infra.graphs import of_type
from tests.infra.program.resource_types import (
    ALARM,
    ALIAS,
    DATA_SOURCE,
    EVENT_RULE,
    EVENT_TARGET,
    FUNCTION,
    LOG_GROUP,
    MAPPING,
    PERMISSION,
    QUEUE,
    QUEUE_POLICY,
    RESOLVER,
    ROLE,
    ROLE_POLICY,
    SUBSCRIPTION_FILTER,
)
from tests.infra.program.stack_under_test import Stack, fleet, up_stack

SOURCE_KINDS = {
    "notification_scheduler": "schedule",
    "notification_generator": "queue",
    "notification_send": "stream",
    "demand_stream_to_sqs": "stream",
    "shorten_event_url": "queue",
    "sms_status_consumer": "stream",
    "event_details": "resolver",
    "proxy_tm_account_service": "resolver",
    "notification_sweeper": "schedule",
}
# What each kind of source adds to a Worker besides role, policy, log group, function and alias.
TRIGGER_CHILD_TYPES: dict[str, Counter[str]] = {
    "stream": Counter({MAPPING: 1, QUEUE: 1}),
    "queue": Counter({MAPPING: 1}),
    "schedule": Counter({EVENT_RULE: 1, EVENT_TARGET: 1, QUEUE: 1, QUEUE_POLICY: 1, PERMISSION: 1}),
    "resolver": Counter({ROLE: 1, ROLE_POLICY: 1, DATA_SOURCE: 1, RESOLVER: 1}),
}
FUNCTION_ALARMS = frozenset({"error-rate", "throttles", "duration", "concurrency"})
SOURCE_ALARMS = {
    "stream": frozenset({"iterator-age", "on-failure-not-empty", "failed-invoke-events", "dropped-events"}),
    # No dropped-events: Lambda emits DroppedEventCount for stream mappings only (an SQS mapping's
    # failures go to the queue's DLQ, never dropped).
    "queue": frozenset({"queue-age", "queue-depth", "dlq-not-empty", "failed-invoke-events"}),
    "schedule": frozenset({"did-not-run", "schedule-failed-invocations", "schedule-dlq-not-empty"}),
    "resolver": frozenset({"latency"}),
}
LOG_DELIVERY_ALARMS = frozenset({"log-delivery-errors", "log-delivery-throttling"})


def _kind(spec: WorkerSpec) -> str:
    return spec.source.kind


def _expected_alarm_suffixes(stack: Stack, spec: WorkerSpec) -> set[str]:
    if not stack.worker(spec).alarms.enabled:
        return set()
    suffixes = set(FUNCTION_ALARMS | SOURCE_ALARMS[_kind(spec)])
    if stack.worker(spec).log_streaming:
        suffixes |= LOG_DELIVERY_ALARMS
    # Alarms on the worker's own metrics (the catalog's MetricAlarms)
    suffixes |= {alarm.suffix for alarm in spec.metric_alarms}
    return suffixes


def _expected_child_types(stack: Stack, spec: WorkerSpec) -> Counter[str]:
    expected = Counter({ROLE: 1, ROLE_POLICY: 1, LOG_GROUP: 1, FUNCTION: 1, ALIAS: 1})
    expected += TRIGGER_CHILD_TYPES[_kind(spec)]
    if stack.worker(spec).log_streaming:
        expected += Counter({ROLE: 1, ROLE_POLICY: 1, SUBSCRIPTION_FILTER: 1})
    expected[ALARM] = len(_expected_alarm_suffixes(stack, spec))
    return +expected


def test_catalog_sources_are_the_expected_kinds() -> None:
    # Given the catalog
    # When each worker's source kind is read
    # Then the fleet is wired as designed (the child-set tests below rely on it)
    assert {spec.name: spec.source.kind for spec in CATALOG} == SOURCE_KINDS


def test_worker_has_exactly_the_children_its_source_and_settings_imply(stack: Stack) -> None:
    # Given each worker's source kind, log streaming setting and alarms
    expected_types = fleet(lambda spec: dict(_expected_child_types(stack, spec)))
    expected_alarms = fleet(
        lambda spec: sorted(f"{spec.name}-alarm-{suffix}" for suffix in _expected_alarm_suffixes(stack, spec))
    )

    # When the Workers' children are listed
    children = fleet(stack.children)

    # Then each type appears exactly as often as expected, and the alarms are exactly the expected ones
    assert fleet(lambda spec: dict(Counter(child.type_ for child in children[spec.name]))) == expected_types
    assert fleet(lambda spec: sorted(c.name for c in of_type(children[spec.name], ALARM))) == expected_alarms


def test_log_streaming_adds_a_subscription_filter_to_the_central_stream(stack: Stack) -> None:
    # Given each worker's logStreaming and the stack's central log stream
    destination = stack.config.platform.central_log_stream_arn

    def expected(spec: WorkerSpec) -> list[dict[str, Any]]:
        if not stack.worker(spec).log_streaming:
            return []
        return [
            {
                "inputs": {
                    "name": f"{stack.function_name(spec)}-to-central-logs",
                    "logGroup": stack.log_group_name(spec),
                    "filterPattern": "",
                    "destinationArn": destination,
                    "roleArn": stack.role_arn(f"{stack.function_name(spec)}-logs"),
                    "distribution": "Random",
                },
                "depends_on": [f"{spec.name}-log-delivery-policy"],
            }
        ]

    # When the Workers' subscription filters are listed
    declared = fleet(
        lambda spec: [
            {"inputs": f.inputs, "depends_on": f.options["depends_on"]}
            for f in of_type(stack.children(spec), SUBSCRIPTION_FILTER)
        ]
    )

    # Then a streaming worker ships its whole log group to the central stream with its own role
    assert declared == fleet(expected)


@pytest.mark.parametrize("stack_name", ["prod1", "qa1"])
def test_every_deployed_worker_has_at_least_six_alarms(stack_name: str) -> None:
    # Given a deployed (non-emulator) stack
    stack = up_stack(stack_name)

    # When each Worker's alarms are counted
    counts = {spec.name: len(of_type(stack.children(spec), ALARM)) for spec in CATALOG}

    # Then none is below six
    assert {name: count for name, count in counts.items() if count < 6} == {}
