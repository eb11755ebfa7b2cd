"""Materializing through a moto server on loopback: real HTTP, the server's URLs, the same skips."""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from aws_clients import AwsClients
from infra.offline import synthesize_stack
from infra.synth import ResourceGraph
from sandbox.materialize import Kind, materialize

# Each test starts its own emulator and materializes the whole stack.
pytestmark = pytest.mark.slow

REGION = "us-east-1"


def _reset(endpoint: str) -> None:
    # An in-process server shares moto's global backends with every other test of this process, and
    # keeps them after `stop()`: reset through moto's documented API, before and after.
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


@pytest.fixture
def moto_server() -> Iterator[str]:
    """A moto server on an ephemeral loopback port, with empty backends; yields its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        _reset(endpoint)
        yield endpoint
    finally:
        _reset(endpoint)
        server.stop()


@pytest.fixture(scope="module")
def local_graph() -> ResourceGraph:
    return synthesize_stack("local")


def test_materializing_over_http_rewrites_queue_urls_to_the_servers(
    local_graph: ResourceGraph, moto_server: str
) -> None:
    # Given a moto server on loopback (real HTTP, as the sandbox runs it)
    clients = AwsClients.for_emulator(moto_server, region=REGION)
    # When the local stack is materialized through it
    result = materialize(local_graph, clients)
    # Then queue URLs are the server's, and functions are wired to them instead of the graph's AWS URLs
    url = result.ref(Kind.QUEUE_URL, "prd3292-local-us-east-1-event-short-url")
    assert url == f"{moto_server}/123456789012/prd3292-local-us-east-1-event-short-url"
    variables = clients.client("lambda").get_function_configuration(
        FunctionName="prd3292-local-us-east-1-dmnd-stream-to-sqs"
    )["Environment"]["Variables"]
    assert variables["SHORT_URL_QUEUE_URL"] == url
    # And the server's bare "not implemented" pages become the same skips as in-process
    assert {item.name for item in result.skipped} == {
        "platform-demand-cdc",
        "event_details-data-source",
        "event_details-resolver",
        "proxy_tm_account_service-data-source",
        "proxy_tm_account_service-resolver",
        "fleet-query-errors",
        "fleet-query-send-latency",
        "fleet-query-cold-starts",
        "fleet-query-notification",
    }
