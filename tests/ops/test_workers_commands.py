"""`dmd workers`: the catalog, what is deployed of it, and what `invoke` refuses before starting a sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.catalog import CATALOG
from ops.workers_commands import DEPLOYED_COLUMNS
from tests.ops.cli_output import flat, local_stack_is, run_dmd, table_rows
from tests.ops.status_scenario import SEND_FUNCTION, Incident, incident

SWEEPER_FUNCTION = "prd3292-local-us-east-1-ntfcn-swpr"

COLUMNS = ("worker", "code", "trigger", "access", "handler")


def test_list_shows_every_worker_with_its_code_access_and_handler() -> None:
    # Given the catalog
    # When the operator lists the workers
    result = run_dmd("workers", "list")

    # Then each worker has one row with its inventory code, its sorted access and its handler
    assert result.exit_code == 0, result.output
    assert {
        name: (row["code"], row["access"], row["handler"])
        for name, row in table_rows(result.output, COLUMNS).items()
    } == {
        spec.name: (
            spec.inventory_code,
            ", ".join(sorted(access.value for access in spec.access)),
            f"workers.{spec.name}.handler.lambda_handler",
        )
        for spec in CATALOG
    }


def test_list_describes_each_kind_of_trigger() -> None:
    # Given workers triggered by each kind of source
    # When the operator lists the workers
    triggers = {
        name: row["trigger"] for name, row in table_rows(run_dmd("workers", "list").output, COLUMNS).items()
    }

    # Then each trigger reads as what it is: a stream (with its filters), a queue, a schedule, a field
    assert triggers == {
        "notification_scheduler": "schedule",
        "notification_generator": "queue generation",
        "notification_send": "stream table, 1 filter pattern(s)",
        "demand_stream_to_sqs": "stream table, 2 filter pattern(s)",
        "shorten_event_url": "queue short_url",
        "sms_status_consumer": "stream sms_status",
        "event_details": "AppSync Query.eventDetails",
        "proxy_tm_account_service": "AppSync Query.tmAccount",
        "notification_sweeper": "schedule",
    }


def test_invoke_refuses_a_payload_that_is_not_json() -> None:
    # Given a payload that is not JSON
    # When the operator invokes a worker with it
    result = run_dmd("workers", "invoke", "notification_send", "{not json")

    # Then the command refuses it as a usage error naming the argument, before starting any sandbox
    assert result.exit_code == 2
    message = flat(result.output)
    assert "PAYLOAD" in message
    assert "not JSON" in message
    assert "starting a sandbox" not in message


def test_invoke_reads_the_payload_from_a_file_named_with_at(tmp_path: Path) -> None:
    # Given a payload file that is not JSON
    payload = tmp_path / "item.json"
    payload.write_text("PK=EVENT#1", encoding="utf-8")

    # When the operator passes it as @FILE
    result = run_dmd("workers", "invoke", "notification_send", f"@{payload}")

    # Then its content is what was parsed (and refused)
    assert result.exit_code == 2
    assert "not JSON" in flat(result.output)


@pytest.fixture(scope="module")
def deployed_stack() -> Iterator[Incident]:
    """The local stack in moto, where notification_send reserves 20 concurrent executions."""
    with incident() as staged:
        staged.target.clients.client("lambda").put_function_concurrency(
            FunctionName=SEND_FUNCTION, ReservedConcurrentExecutions=20
        )
        yield staged


@pytest.fixture
def on_local(deployed_stack: Incident, monkeypatch: pytest.MonkeyPatch) -> Incident:
    """`--stack local` reaches the deployed stack; any other stack resolves as usual."""
    local_stack_is(deployed_stack.target, monkeypatch)
    return deployed_stack


def test_list_deployed_shows_what_lambda_runs_for_each_worker(on_local: Incident) -> None:
    # Given the local stack deployed (in moto)
    # When on-call lists what is deployed
    result = run_dmd("workers", "list", "--deployed", "--stack", "local")

    # Then each worker has its live version and settings
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout, DEPLOYED_COLUMNS)
    assert set(rows) == {spec.name for spec in CATALOG}
    send = rows["notification_send"]
    assert (send["live version"], send["memory MB"], send["timeout s"], send["reserved"]) == (
        "1",
        "512",
        "30",
        "20",
    )
    assert (send["state"], send["runtime"], send["arch"]) == ("Active", "python3.12", "arm64")
    assert rows["event_details"]["reserved"] == "unreserved"
    assert send["newest version"] == "1"  # live is on the newest published version: nothing pending


def test_list_deployed_shows_a_release_pending_when_pulumi_up_published_a_newer_version(
    on_local: Incident,
) -> None:
    # Given a `pulumi up` that published version 2 of notification_send and left `live` on 1
    functions = on_local.target.clients.client("lambda")
    functions.update_function_configuration(FunctionName=SEND_FUNCTION, Description="version 2")
    assert functions.publish_version(FunctionName=SEND_FUNCTION)["Version"] == "2"

    # When on-call lists what is deployed, for people and as JSON
    rows = table_rows(run_dmd("workers", "list", "--deployed", "--stack", "local").stdout, DEPLOYED_COLUMNS)
    document = json.loads(run_dmd("workers", "list", "--deployed", "--stack", "local", "--json").stdout)

    # Then the send worker reads live 1, newest 2 (release pending); the others have nothing pending
    assert (rows["notification_send"]["live version"], rows["notification_send"]["newest version"]) == (
        "1",
        "2 (release pending)",
    )
    pending = {entry["worker"]: (entry["newestVersion"], entry["releasePending"]) for entry in document}
    assert pending["notification_send"] == ("2", True)
    assert {worker for worker, (_, is_pending) in pending.items() if is_pending} == {"notification_send"}


def test_list_deployed_reads_not_deployed_for_a_missing_function(on_local: Incident) -> None:
    # Given the sweeper's function deleted by hand
    on_local.target.clients.client("lambda").delete_function(FunctionName=SWEEPER_FUNCTION)

    # When on-call lists what is deployed, for people and as JSON
    table = run_dmd("workers", "list", "--deployed", "--stack", "local")
    document = json.loads(run_dmd("workers", "list", "--deployed", "--stack", "local", "--json").stdout)

    # Then the sweeper reads "not deployed", with nulls in JSON, and the JSON has the documented keys
    assert (
        table_rows(table.stdout, DEPLOYED_COLUMNS)["notification_sweeper"]["live version"] == "not deployed"
    )
    sweeper = next(entry for entry in document if entry["worker"] == "notification_sweeper")
    assert (sweeper["deployed"], sweeper["liveVersion"], sweeper["memoryMb"]) == (False, None, None)
    assert {key for entry in document for key in entry} == {
        "worker",
        "functionName",
        "deployed",
        "liveVersion",
        "liveRouting",
        "newestVersion",
        "releasePending",
        "memoryMb",
        "timeoutSeconds",
        "reservedConcurrency",
        "lastModified",
        "state",
        "lastUpdateStatus",
        "runtime",
        "architectures",
    }


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["--deployed"], "--deployed needs --stack"),
        (["--stack", "qa1"], "--stack applies to --deployed only"),
        (["--deployed", "--stack", "nope"], "unknown stack 'nope'"),
    ],
    ids=["deployed without stack", "stack without deployed", "unknown stack"],
)
def test_list_refuses_options_that_do_not_go_together(arguments: list[str], reason: str) -> None:
    result = run_dmd("workers", "list", *arguments)
    assert result.exit_code == 2
    assert reason in flat(result.output)


def test_list_json_without_deployed_is_the_catalog() -> None:
    document = json.loads(run_dmd("workers", "list", "--json").stdout)
    assert [entry["worker"] for entry in document] == [spec.name for spec in CATALOG]
    assert set(document[0]) == {"worker", "code", "trigger", "access", "handler"}
