"""`dmd capacity`: the table, the verdict and its exit code, the fixes, `--json`, bad input, metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from aws_clients import AwsClients
from infra.stack_files import load_committed
from ops.target import Target
from tests.ops.cli_output import flat, run_dmd, table_rows

COLUMNS = ("stage", "throughput", "binding limit", "latency", "time")
JSON_KEYS = {
    "stack",
    "fans",
    "sales",
    "notifications",
    "smsShare",
    "faults",
    "costs",
    "limits",
    "stages",
    "bottleneck",
    "perSecond",
    "latencySeconds",
    "retryTailSeconds",
    "totalSeconds",
    "windowSeconds",
    "holds",
    "marginSeconds",
    "notes",
    "fixes",
    "simulation",
    "simulationDifference",
}


def test_prod1_holds_for_fifty_thousand_fans_and_the_table_names_each_binding_limit() -> None:
    # When the model runs for prod1 and 50,000 fans over 3 sales
    result = run_dmd("capacity", "--stack", "prod1", "--fans", "50000", "--sales", "3")
    # Then it exits 0 with one row per stage, each with its limit's arithmetic, and the verdict
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout, COLUMNS)
    assert {"notification_scheduler", "notification_generator", "table stream", "DynamoDB"} <= set(rows)
    assert rows["notification_send"]["binding limit"].startswith(
        "lanes: 10 lanes × 4 shard(s) × 200 records per"
    )
    assert "(after the send)" in result.stdout
    assert "window holds:" in flat(result.stdout)


def test_a_missed_window_exits_1_and_names_the_config_change_that_fixes_it() -> None:
    # When qa1 (SES 14/s, 2 lanes a shard, 20 reserved) is asked for 500,000 fans
    result = run_dmd("capacity", "--stack", "qa1", "--fans", "500000", "--sales", "3")
    # Then the window misses, and the fixes end in one that holds, naming keys of Pulumi.qa1.yaml
    assert result.exit_code == 1, result.output
    text = flat(result.stdout)
    assert "window misses by" in text
    assert "fix: raise the account's SES sending rate" in text
    assert "parallelizationFactor" in text and "in Pulumi.qa1.yaml" in text
    assert text.rstrip().split("fix: ")[-1].split(" note:")[0].endswith("holds")


def test_json_has_the_documented_keys_and_the_simulation_next_to_the_model() -> None:
    # When asked for JSON with the simulation
    result = run_dmd(
        "capacity", "--stack", "prod1", "--fans", "20000", "--sales", "2", "--simulate", "--json"
    )
    # Then the document has exactly the documented keys, stage entries included
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == JSON_KEYS
    assert set(document["stages"][0]) == {
        "stage",
        "perSecond",
        "binding",
        "limits",
        "latencySeconds",
        "seconds",
        "inWindow",
    }
    assert document["holds"] is True and document["fixes"] == []
    assert abs(document["simulationDifference"]) < 0.10
    assert document["simulation"]["sent"] == document["notifications"] == 20_000


def test_external_limits_and_faults_change_the_answer() -> None:
    # When the SMS service allows 50 requests/s and a fifth of the requests fail
    result = run_dmd(
        "capacity",
        "--stack",
        "prod1",
        "--fans",
        "200000",
        "--sms-rate",
        "50",
        "--faults",
        "sms=0.2",
        "--json",
    )
    # Then the SMS vendor binds, with the attempts the faults cost, and the fix asks the SMS team
    document = json.loads(result.stdout)
    assert result.exit_code == 1
    assert document["bottleneck"].startswith("notification_send — SMS vendor limit: 50 requests/s")
    assert document["faults"]["smsTransient"] == pytest.approx(0.2)
    assert document["fixes"][0]["change"].startswith("ask the SMS service team for")


def test_local_models_the_sandbox_demo_in_real_seconds() -> None:
    # When the local stack is asked (the sandbox, no emulator needed)
    result = run_dmd("capacity", "--stack", "local", "--fans", "300", "--sales", "4", "--json")
    # Then the answer is the demo's: one process, its window the lead at the sandbox's speed
    document = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert document["bottleneck"].startswith("the sandbox's one process")
    assert document["windowSeconds"] == pytest.approx(1800 / 10)
    slower = json.loads(
        run_dmd("capacity", "--stack", "local", "--fans", "300", "--load-factor", "2", "--json").stdout
    )
    assert slower["totalSeconds"] > document["totalSeconds"]


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (("--stack", "prod9", "--fans", "10"), "no stack 'prod9'"),
        (("--stack", "prod1", "--fans", "10", "--faults", "sms=2"), "bad input"),
        (("--stack", "prod1", "--fans", "10", "--faults", "nonsense=0.1"), "bad input"),
        (("--stack", "prod1", "--fans", "0"), "Invalid value"),
        (("--stack", "prod1", "--fans", "10", "--sms-share", "1.5"), "Invalid value"),
    ],
)
def test_bad_input_exits_2_with_the_reason(arguments: tuple[str, ...], reason: str) -> None:
    # When the command is given something it cannot use
    result = run_dmd("capacity", *arguments)
    # Then it exits 2 and says why
    assert result.exit_code == 2
    assert reason in flat(result.output)


def _put(clients: AwsClients, namespace: str, metric: str, dimensions: dict[str, str], value: float) -> None:
    clients.client("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": name, "Value": text} for name, text in dimensions.items()],
                "Timestamp": datetime.now(UTC) - timedelta(minutes=5),
                "Value": value,
            }
        ],
    )


def test_from_metrics_reads_duration_per_record_from_cloudwatch(
    deployed: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given qa1 (in moto) whose sender spent 100 s over 400 invocations sending 2,000 reminders (50 ms
    # each), and whose generator spent 30 s creating 10,000
    target = Target(stack="qa1", config=load_committed("qa1"), clients=deployed)
    monkeypatch.setattr("ops.operator_io.resolve_target", lambda stack, **_: target)
    send = target.fleet.worker("notification_send").function_name
    generator = target.fleet.worker("notification_generator").function_name
    _put(deployed, "AWS/Lambda", "Duration", {"FunctionName": send}, 100_000)
    _put(deployed, "AWS/Lambda", "Invocations", {"FunctionName": send}, 400)
    _put(
        deployed, "DmdWorkers", "SendAttempts", {"service": "notification_send", "environment": "qa1"}, 2_000
    )
    _put(deployed, "AWS/Lambda", "Duration", {"FunctionName": generator}, 30_000)
    _put(deployed, "AWS/Lambda", "Invocations", {"FunctionName": generator}, 3)
    _put(
        deployed,
        "DmdWorkers",
        "NotificationsCreated",
        {"service": "notification_generator", "environment": "qa1"},
        10_000,
    )
    # When the model runs from those metrics, with vendors far from binding
    arguments = ("--stack", "qa1", "--fans", "100000", "--sms-rate", "100000", "--ses-rate", "100000")
    result = run_dmd("capacity", *arguments, "--from-metrics", "--since", "1h", "--json")
    # Then the sender's lanes run batches of 100 records at 50 ms each, the generator 3 ms a notification
    document = json.loads(result.stdout)
    assert document["costs"] == "CloudWatch (--from-metrics)"
    assert "records per 5.00 s batch" in document["bottleneck"]
    generator_stage = next(
        stage for stage in document["stages"] if stage["stage"] == "notification_generator"
    )
    assert "× 333/s per job" in generator_stage["binding"]


def test_from_metrics_without_sends_in_the_window_refuses(
    deployed: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given qa1 with no metrics at all
    target = Target(stack="qa1", config=load_committed("qa1"), clients=deployed)
    monkeypatch.setattr("ops.operator_io.resolve_target", lambda stack, **_: target)
    # When the model is asked to read them
    result = run_dmd("capacity", "--stack", "qa1", "--fans", "1000", "--from-metrics")
    # Then it exits 1 saying nothing was sent in the window
    assert result.exit_code == 1
    assert "nothing was sent" in flat(result.output)
