"""Client factories: cached, configured for Lambda, pointed at a local emulator by AWS_ENDPOINT_URL."""

from __future__ import annotations

import http.server
import itertools
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer
from runtime_fakes import OtlpReceiver

from workers.shared import clients
from workers.shared.observability import LOGGER, instrumented
from workers.shared.settings import TableSettings, load_settings

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def test_clients_are_created_on_first_use_and_then_reused() -> None:
    # Given fresh caches (the autouse fixture resets them)
    assert clients.dynamodb.cache_info().currsize == 0

    # When a factory is called twice, then it builds one client; a reset builds a new one
    first = clients.dynamodb()
    assert clients.dynamodb() is first
    clients.reset_clients()
    assert clients.dynamodb() is not first


def test_the_demand_repository_is_built_once_per_table_from_the_settings_and_reset_with_the_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a worker's table settings from its environment
    for name, value in {
        "DMD_ENVIRONMENT": "qa1",
        "POWERTOOLS_SERVICE_NAME": "sms_status_consumer",
        "POWERTOOLS_METRICS_NAMESPACE": "DmdWorkers",
        "DEMAND_TABLE_NAME": "prd3292-qa1-us-east-1-demand-table",
        "DEMAND_TABLE_SALES_INDEX": "sales",
        "DEMAND_TABLE_DEMAND_INDEX": "demand-by-sale",
        "DEMAND_TABLE_MESSAGE_INDEX": "notification-by-message-id",
        "DEMAND_TABLE_PENDING_INDEX": "pending-notifications",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(TableSettings)

    # When the factory is asked for the repository twice
    repository = clients.demand_repository(settings)

    # Then it names the settings' table and indexes, is reused, and a reset builds a new one
    assert (repository.table_name, repository.sales_index, repository.demand_index) == (
        "prd3292-qa1-us-east-1-demand-table",
        "sales",
        "demand-by-sale",
    )
    assert clients.demand_repository(settings) is repository
    clients.reset_clients()
    assert clients.demand_repository(settings) is not repository


def test_importing_the_runtime_creates_no_client() -> None:
    # When the runtime modules are imported in a fresh interpreter
    code = (
        "import botocore.client as bc\n"
        "created = []\n"
        "original = bc.ClientCreator.create_client\n"
        "bc.ClientCreator.create_client = lambda *a, **k: created.append(a) or original(*a, **k)\n"
        "import workers.shared.repository, workers.shared.records, workers.shared.vendor_http\n"
        "print(len(created))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    # Then no AWS client exists yet
    assert result.stdout.strip() == "0"


def test_clients_share_the_lambda_configuration() -> None:
    # When the DynamoDB client is built
    config = clients.dynamodb().meta.config

    # Then it has bounded timeouts, DynamoDB's retry policy, a pool for parallel writes, no account endpoints
    assert (config.connect_timeout, config.read_timeout) == (2, 5)
    assert config.retries == {"mode": "legacy", "total_max_attempts": 6}
    assert clients.sqs().meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert config.max_pool_connections == clients.DYNAMODB_POOL_CONNECTIONS
    assert config.account_id_endpoint_mode == "disabled"
    assert clients.sqs().meta.config.read_timeout == 10
    for factory in (clients.ses, clients.sts, clients.secretsmanager):
        assert factory().meta.region_name == "us-east-1"


@pytest.fixture
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_aws_endpoint_url_points_every_client_at_a_local_emulator(
    moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the sandbox's emulator endpoint in the environment
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    clients.reset_clients()

    # When the cached clients talk to AWS
    queue_url = clients.sqs().create_queue(QueueName="event-short-url")["QueueUrl"]
    clients.dynamodb().create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    # Then boto3 honoured AWS_ENDPOINT_URL natively: the emulator holds the resources
    assert clients.dynamodb().meta.endpoint_url == moto_server
    assert clients.dynamodb().list_tables()["TableNames"] == ["t"]
    assert queue_url.endswith("/event-short-url")


def test_each_aws_call_is_a_client_span_under_the_invocation(
    otlp_receiver: OtlpReceiver, aws: None, lambda_context: Any
) -> None:
    # Given tracing on and a worker calling DynamoDB
    @instrumented
    def lambda_handler(event: dict[str, Any], context: Any) -> list[str]:
        return clients.dynamodb().list_tables()["TableNames"]

    # When it is invoked
    lambda_handler({}, lambda_context)

    # Then the call is a span of its own, child of the invocation span
    spans = {exported.name: exported for exported in otlp_receiver.spans()}
    call, root = spans["DynamoDB.ListTables"], spans[LOGGER.service]
    assert call.parent_span_id == root.span_id
    assert call.attributes["rpc.system"] == "aws-api"
    assert call.attributes["rpc.method"] == "ListTables"
    assert call.attributes["http.response.status_code"] == 200


def test_a_throttled_dynamodb_write_is_retried_after_50_ms_doubling_not_after_seconds() -> None:
    # Given a DynamoDB endpoint that answers every write ProvisionedThroughputExceeded
    arrivals: list[float] = []

    class Throttling(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            arrivals.append(time.monotonic())
            body = json.dumps(
                {
                    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                    "message": "throughput exceeded",
                }
            ).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Throttling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{server.server_port}",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=clients.dynamodb().meta.config,
    )

    # When a write is made with the fleet's DynamoDB configuration
    try:
        with pytest.raises(ClientError):
            client.put_item(TableName="demand", Item={"PK": {"S": "fan:1"}})
    finally:
        server.shutdown()

    # Then it was tried 6 times, waiting about 50, 100, 200, 400 and 800 ms in between (not 0-1 s, 0-2 s)
    waits = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(arrivals) == clients.DYNAMODB_ATTEMPTS == 6
    assert all(
        0.04 <= wait <= expected + 0.25
        for wait, expected in zip(waits, (0.05, 0.1, 0.2, 0.4, 0.8), strict=True)
    )
    assert sum(waits) < 2.5
