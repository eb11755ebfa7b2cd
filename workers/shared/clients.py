"""Cached factories: AWS clients, the demand table's repository, the secrets provider, the vendor pool."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Final, Literal

import boto3
import urllib3
from botocore.config import Config

from workers.shared.observability import AttributeValue, mark_error, start_span, tracing_enabled

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from botocore.client import BaseClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sts import STSClient

    from workers.shared.repository import DemandRepository
    from workers.shared.settings import TableSettings

# Pooled connections for the generator's parallel conditional writes (its tunable caps at 64).
DYNAMODB_POOL_CONNECTIONS = 64
CONNECT_TIMEOUT_SECONDS = 2
DYNAMODB_READ_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 10
# DynamoDB retries with the SDK's DynamoDB policy (botocore's legacy mode for dynamodb: waits of 50 ms,
# doubling): standard mode waits a jittered 0-1 s, then 0-2 s, before retrying a throttled write,
# and a worker that writes record after record (the sender) pays those waits in series: under 10 %
# throttling its lane drained 3-4 times slower (bench/RESULTS.md, "Fault drills"). Six attempts wait
# at most 1.55 s in all (standard's three: up to 3 s) and fail one write in 10^6 at 10 % throttling.
DYNAMODB_RETRY_MODE: Final = "legacy"
DYNAMODB_ATTEMPTS: Final = 6
_SPAN_KEY = "dmd_span"


def client_config(
    *,
    read_timeout: float = READ_TIMEOUT_SECONDS,
    pool_connections: int = 10,
    max_attempts: int = 3,
    retry_mode: Literal["standard", "legacy"] = "standard",
) -> Config:
    """Timeouts, retries (standard mode unless told) and pooling shared by every AWS client of the fleet."""
    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=read_timeout,
        retries={"mode": retry_mode, "total_max_attempts": max_attempts},
        max_pool_connections=pool_connections,
        tcp_keepalive=True,
        # Account-id endpoints break local emulators (moto) and buy nothing here.
        account_id_endpoint_mode="disabled",
    )


@functools.cache
def _session() -> boto3.Session:
    # Region, credentials and AWS_ENDPOINT_URL(_<SERVICE>) come from the environment, so the same
    # code runs in Lambda and against a local moto server.
    return boto3.Session()


def _traced(client: BaseClient) -> None:
    if not tracing_enabled():
        return
    service = client.meta.service_model.service_id.hyphenize()
    events = client.meta.events
    events.register(f"before-call.{service}", _before_call)
    events.register(f"after-call.{service}", _after_call)
    events.register(f"after-call-error.{service}", _after_call_error)


def _before_call(model: Any, context: dict[str, Any], **_: Any) -> None:
    service = model.service_model.service_id
    attributes: dict[str, AttributeValue] = {
        "rpc.system": "aws-api",
        "rpc.service": str(service),
        "rpc.method": model.name,
    }
    context[_SPAN_KEY] = start_span(f"{service}.{model.name}", kind="client", attributes=attributes)


def _after_call(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    current = context.pop(_SPAN_KEY, None)
    if current is None:
        return
    status = int(parsed.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    current.set_attribute("http.response.status_code", status)
    if status >= 400:
        mark_error(current, str(parsed.get("Error", {}).get("Code", status)))
    current.end()


def _after_call_error(exception: BaseException, context: dict[str, Any], **_: Any) -> None:
    current = context.pop(_SPAN_KEY, None)
    if current is not None:
        current.record_exception(exception)
        mark_error(current, type(exception).__name__)
        current.end()


@functools.cache
def dynamodb(max_attempts: int = DYNAMODB_ATTEMPTS) -> DynamoDBClient:
    """The low-level DynamoDB client (thread-safe, unlike boto3 resources), DynamoDB's retry policy.

    More `max_attempts` ride out longer throttling (ProvisionedThroughputExceeded) where a failed
    call costs a whole job (the generator: `PATIENT_DYNAMODB_ATTEMPTS`).
    """
    client = _session().client(
        "dynamodb",
        config=client_config(
            read_timeout=DYNAMODB_READ_TIMEOUT_SECONDS,
            pool_connections=DYNAMODB_POOL_CONNECTIONS,
            max_attempts=max_attempts,
            retry_mode=DYNAMODB_RETRY_MODE,
        ),
    )
    _traced(client)
    return client


@functools.cache
def sqs() -> SQSClient:
    """The SQS client."""
    client = _session().client("sqs", config=client_config())
    _traced(client)
    return client


@functools.cache
def ses() -> SESClient:
    """The SES client (templated email), one attempt per call.

    SES has no idempotency key: an SDK retry after a read timeout or 5xx could send the email twice.
    The sender retries through the notification's RETRY status instead, guarded by its claim.
    """
    client = _session().client("ses", config=client_config(max_attempts=1))
    _traced(client)
    return client


@functools.cache
def sts() -> STSClient:
    """The STS client (role assumption for SigV4-signed vendor calls)."""
    client = _session().client("sts", config=client_config())
    _traced(client)
    return client


@functools.cache
def secretsmanager() -> SecretsManagerClient:
    """The Secrets Manager client."""
    client = _session().client("secretsmanager", config=client_config())
    _traced(client)
    return client


@functools.cache
def demand_repository(settings: TableSettings, *, max_attempts: int | None = None) -> DemandRepository:
    """The demand table named by the worker's settings, on the cached DynamoDB client (one per process).

    `max_attempts`: a client of its own with that many attempts per call (see `dynamodb`).
    """
    # Imported here: repository.py builds on this module's `dynamodb()`.
    from workers.shared.repository import DemandRepository

    return DemandRepository(
        settings.demand_table_name,
        sales_index=settings.demand_table_sales_index,
        demand_index=settings.demand_table_demand_index,
        message_index=settings.demand_table_message_index,
        pending_index=settings.demand_table_pending_index,
        client=dynamodb(max_attempts) if max_attempts is not None else None,
    )


@functools.cache
def secrets_provider() -> SecretsProvider:
    """Powertools' caching secrets provider on our configured client."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=secretsmanager())


@functools.cache
def http_pool() -> urllib3.PoolManager:
    """The one connection pool of vendor HTTP calls; retries are ours, so urllib3 never retries."""
    return urllib3.PoolManager(num_pools=8, maxsize=16, retries=False)


def reset_clients() -> None:
    """Drop every cached client, repository, provider and pool so the next call rebuilds them (tests)."""
    for factory in (dynamodb, sqs, ses, sts, secretsmanager, demand_repository, secrets_provider, _session):
        factory.cache_clear()
    if http_pool.cache_info().currsize:
        http_pool().clear()
    http_pool.cache_clear()
