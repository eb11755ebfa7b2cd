"""Materializing for the sandbox's own pollers: sources must accept writes, with the mappings kept out of
a stock moto, or registered in the sandbox's emulator, which detaches them from their sources."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from aws_clients import AwsClients
from infra.offline import synthesize_stack
from infra.synth import ResourceGraph
from sandbox import emulator_server
from sandbox.materialize import UNREGISTERED_MAPPING, Kind, materialize
from tests.infra.fleet import SHIPPED_WORKERS, trigger_enabled, worker_names
from tests.infra.graphs import stack_config

# Each test starts its own emulator and materializes the whole stack.
pytestmark = pytest.mark.slow

REGION = "us-east-1"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
TABLE_STREAM = "prd3292-local-dmnd-table-stream"


@pytest.fixture(scope="module")
def local_graph() -> ResourceGraph:
    return synthesize_stack("local")


@pytest.fixture
def emulator() -> Iterator[AwsClients]:
    with mock_aws():
        yield AwsClients.for_emulator(None, region=REGION)


def test_mappings_left_to_the_pollers_are_skipped_with_their_resolved_requests(
    local_graph: ResourceGraph, emulator: AwsClients
) -> None:
    # Given the local stack materialized without registering its mappings in moto
    result = materialize(local_graph, emulator, register_event_source_mappings=False)
    mappings = {resource.name: resource for resource in local_graph.of_type(ESM)}
    # Then each mapping is reported skipped with the reason, and none exists in moto
    assert {item.name: item.reason for item in result.skipped if item.type_ == ESM} == dict.fromkeys(
        mappings, UNREGISTERED_MAPPING
    )
    assert emulator.client("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    # And its request, resolved to the emulator's ARNs, is there for the pollers
    send = result.event_source_mappings["notification_send-trigger"]
    assert send["EventSourceArn"] == result.ref(Kind.STREAM, TABLE_STREAM)
    assert send["FunctionName"] == result.ref(Kind.ALIAS, "prd3292-local-us-east-1-ntfcn-snd:live")
    declared = mappings["notification_send-trigger"].inputs["filterCriteria"]["filters"]
    assert send["FilterCriteria"] == {"Filters": [{"Pattern": item["pattern"]} for item in declared]}
    # And the sources accept writes, which stay there for the pollers to read
    kinesis, sqs = emulator.client("kinesis"), emulator.client("sqs")
    kinesis.put_record(StreamName=TABLE_STREAM, Data=b'{"eventName": "INSERT"}', PartitionKey="pk")
    url = result.ref(Kind.QUEUE_URL, "prd3292-local-us-east-1-event-short-url")
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    assert len(sqs.receive_message(QueueUrl=url)["Messages"]) == 1


def test_with_a_registered_stream_mapping_moto_refuses_records_without_docker(
    local_graph: ResourceGraph, emulator: AwsClients
) -> None:
    # Given the stack materialized with its mappings registered in moto (the default)
    materialize(local_graph, emulator)
    # When a record is written to a stream a mapping reads
    # Then moto tries to run the function in Docker (it only probes the local Docker socket) and the
    # write fails: why the sandbox's pollers need `register_event_source_mappings=False`
    with pytest.raises((AttributeError, ClientError)):
        emulator.client("kinesis").put_record(StreamName=TABLE_STREAM, Data=b"{}", PartitionKey="pk")


def test_with_the_mappings_detached_as_in_the_sandboxs_emulator_they_are_registered_and_sources_accept_writes(
    local_graph: ResourceGraph, emulator: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given moto with its event sources detached from their mappings, as the emulator process runs it
    # (restored after the test: this process's moto stays stock)
    for source in emulator_server.MAPPING_SOURCES:
        monkeypatch.setattr(source, emulator_server.MAPPING_HOOK, None, raising=False)
    emulator_server.detach_event_source_mappings()
    # When the stack is materialized with its mappings registered
    result = materialize(local_graph, emulator)
    # Then every mapping exists in the emulator, enabled (an added worker's as its stack config deploys
    # it), with its resolved request kept for the pollers
    lambda_ = emulator.client("lambda")
    mappings = {resource.name for resource in local_graph.of_type(ESM)}
    assert set(result.event_source_mappings) == mappings
    states = {}
    for name in mappings:
        mapping = lambda_.get_event_source_mapping(UUID=result.ref(Kind.EVENT_SOURCE_MAPPING, name))
        states[name.removesuffix("-trigger")] = mapping["State"]
        assert mapping["EventSourceArn"] == result.event_source_mappings[name]["EventSourceArn"]
    assert states == {
        name: "Enabled" if trigger_enabled(stack_config("local"), name) else "Disabled"
        for name in worker_names("stream", "queue")
    }
    assert {states[name] for name in SHIPPED_WORKERS if name in states} == {"Enabled"}
    assert not [item for item in result.skipped if item.type_ == ESM]
    # And the sources accept writes, which stay there for the pollers (moto invokes nothing)
    emulator.client("kinesis").put_record(StreamName=TABLE_STREAM, Data=b"{}", PartitionKey="pk")
    url = result.ref(Kind.QUEUE_URL, "prd3292-local-us-east-1-event-short-url")
    sqs = emulator.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    assert len(sqs.receive_message(QueueUrl=url)["Messages"]) == 1
