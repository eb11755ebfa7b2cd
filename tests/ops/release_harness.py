"""What the release tests share: a fake clock that never sleeps, new versions, `live`'s moves, bad signals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aws_clients import AwsClients
from infra.stack_files import load_committed
from infra.synth import ResourceGraph
from ops.target import Target

SEND = "notification_send"
SHORT_URL = "shorten_event_url"
SEND_FUNCTION = "prd3292-local-us-east-1-ntfcn-snd"
SHORT_URL_FUNCTION = "prd3292-local-us-east-1-shortn-evnt-url"
SEND_ERROR_RATE_ALARM = f"{SEND_FUNCTION}-error-rate"
OPERATOR = "arn:aws:sts::123456789012:assumed-role/oncall/jane"


@dataclass
class FakeClock:
    """A clock that moves only when the release sleeps; `on_sleep(clock)` runs after each sleep."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    sleeps: list[float] = field(default_factory=list)
    on_sleep: Callable[[FakeClock], None] | None = None

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance the clock by `seconds` (no real wait), then run `on_sleep`."""
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        if self.on_sleep is not None:
            self.on_sleep(self)


def local_target(clients: AwsClients, graph: ResourceGraph) -> Target:
    """The local stack's target on these (moto) clients, with its graph already synthesized."""
    target = Target(stack="local", config=load_committed("local"), clients=clients)
    target.__dict__["graph"] = graph  # the cached_property, filled: no second synth
    return target


def publish(target: Target, function: str, note: str = "next") -> str:
    """What a `pulumi up` with changed code does: publish a new version (and leave `live` alone)."""
    functions = target.clients.client("lambda")
    functions.update_function_configuration(FunctionName=function, Description=f"version {note}")
    return str(functions.publish_version(FunctionName=function)["Version"])


def live(target: Target, function: str) -> tuple[str, dict[str, float]]:
    """`live`'s version and additional weights."""
    alias = target.clients.client("lambda").get_alias(FunctionName=function, Name="live")
    return alias["FunctionVersion"], dict(
        (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    )


def alias_moves(target: Target) -> list[tuple[str, str, dict[str, float]]]:
    """Every UpdateAlias the release sends from now on, as (function, version, weights), in order."""
    moves: list[tuple[str, str, dict[str, float]]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        weights = params.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})
        moves.append((params["FunctionName"], params["FunctionVersion"], dict(weights)))

    target.clients.client("lambda").meta.events.register("provide-client-params.lambda.UpdateAlias", record)
    return moves


def put_through_live(
    target: Target, function: str, version: str, at: datetime, *, invocations: float, errors: float
) -> None:
    """Lambda's metrics for invocations of `function:live` that ran `version` (alias dimensions)."""
    dimensions = [
        {"Name": "FunctionName", "Value": function},
        {"Name": "Resource", "Value": f"{function}:live"},
        {"Name": "ExecutedVersion", "Value": version},
    ]
    target.clients.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {"MetricName": "Invocations", "Dimensions": dimensions, "Value": invocations, "Timestamp": at},
            {"MetricName": "Errors", "Dimensions": dimensions, "Value": errors, "Timestamp": at},
        ],
    )


def put_own(target: Target, worker: str, metric: str, at: datetime, value: float) -> None:
    """One of the worker's own (EMF) metrics, with the dimensions Powertools emits."""
    target.clients.client("cloudwatch").put_metric_data(
        Namespace=target.config.observability.metrics_namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [
                    {"Name": "service", "Value": worker},
                    {"Name": "environment", "Value": target.config.environment},
                ],
                "Value": value,
                "Timestamp": at,
            }
        ],
    )


def alarm_fires(target: Target, name: str) -> None:
    """The alarm goes into ALARM."""
    target.clients.client("cloudwatch").set_alarm_state(
        AlarmName=name, StateValue="ALARM", StateReason="Threshold Crossed: test"
    )


def fake_time(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    """`dmd release` runs on the fake clock: no test waits for real."""
    monkeypatch.setattr("ops.release_commands._clock", clock)
    monkeypatch.setattr("ops.release_commands._sleep", clock.sleep)
