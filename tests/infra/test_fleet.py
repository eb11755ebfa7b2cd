"""The shipped fleet the tests pin literally, and what they derive for workers added after it."""

from __future__ import annotations

from infra.catalog import CATALOG
from tests.infra.fleet import (
    SHIPPED_WORKERS,
    added_workers,
    owner,
    shipped_graph,
    trigger_kind,
    worker_names,
)
from tests.infra.graphs import stack_graph


def test_the_shipped_workers_open_the_catalog_in_order_and_the_rest_are_added() -> None:
    # Given the catalog / Then it starts with the nine shipped workers, and any other is an added one
    names = [spec.name for spec in CATALOG]
    assert tuple(names[: len(SHIPPED_WORKERS)]) == SHIPPED_WORKERS
    assert [spec.name for spec in added_workers()] == names[len(SHIPPED_WORKERS) :]


def test_each_shipped_worker_has_its_trigger_kind() -> None:
    assert {name: trigger_kind(spec) for spec in CATALOG if (name := spec.name) in SHIPPED_WORKERS} == {
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
    assert worker_names("stream")[:3] == ["notification_send", "demand_stream_to_sqs", "sms_status_consumer"]


def test_the_shipped_graph_keeps_the_platform_and_the_shipped_workers_resources() -> None:
    # Given the local stack's graph
    graph = stack_graph("local")
    # When the added workers' resources are left out
    shipped = shipped_graph(graph)
    # Then what is left is every resource of the platform and of the shipped workers, in order
    assert {owner(graph, resource) for resource in shipped.resources} <= {None, *SHIPPED_WORKERS}
    assert list(shipped.resources) == [
        resource for resource in graph.resources if owner(graph, resource) in (None, *SHIPPED_WORKERS)
    ]
    # And a worker's resources belong to it, the platform's to none
    assert owner(graph, graph.named("notification_send-alarm-concurrency")) == "notification_send"
    assert owner(graph, graph.named("notification_send")) == "notification_send"
    assert owner(graph, graph.named("platform-demand-table")) is None
