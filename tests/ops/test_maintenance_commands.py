"""`dmd maintenance start|end|status` on the local stack in moto: exit codes, messages, tables and JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from aws_clients import AwsClients
from infra.stack_files import load_committed
from infra.synth import ResourceGraph
from ops.operations_records import active_maintenance
from ops.target import Target
from tests.infra.fleet import added_names, trigger_enabled
from tests.ops.cli_output import flat, run_dmd, table_rows

SCHEDULER_RULE = "prd3292-local-us-east-1-ntfcn-schdlr-schedule"
START_KEYS = {"stack", "dryRun", "reason", "startedBy", "startedAt", "workers", "steps", "drain"}
STEP_KEYS = {"worker", "kind", "id", "enabledBefore", "action"}
DRAIN_KEYS = {"seconds", "disabling", "busy", "drained"}
END_KEYS = {"stack", "dryRun", "reason", "startedBy", "startedAt", "workers", "steps"}
RESTORE_KEYS = {"worker", "kind", "id", "state", "enabledBefore", "action"}
STATUS_KEYS = {"stack", "active", "maintenance", "triggers"}
TRIGGER_KEYS = {"worker", "kind", "id", "state", "enabled", "enabledBefore"}


def _local(clients: AwsClients, graph: ResourceGraph, monkeypatch: pytest.MonkeyPatch) -> Target:
    target = Target(stack="local", config=load_committed("local"), clients=clients)
    target.graph = graph  # the cached property's value, set ahead
    monkeypatch.setattr("ops.operator_io.resolve_target", lambda stack, **_: target)
    return target


@pytest.fixture
def local(deployed: AwsClients, local_graph: ResourceGraph, monkeypatch: pytest.MonkeyPatch) -> Target:
    """`--stack local` resolved to the materialized moto stack."""
    return _local(deployed, local_graph, monkeypatch)


@pytest.fixture
def empty_local(local_graph: ResourceGraph, monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    """`--stack local` resolved to an empty moto (nothing deployed)."""
    with mock_aws():
        yield _local(AwsClients.for_emulator(None, region="us-east-1"), local_graph, monkeypatch)


def states(target: Target) -> tuple[dict[str, str], str]:
    """Every mapping's State by UUID, and the scheduler rule's State."""
    mappings = target.clients.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    rule = target.clients.client("events").describe_rule(Name=SCHEDULER_RULE)["State"]
    return {mapping["UUID"]: mapping["State"] for mapping in mappings}, rule


def disabled_by_config(target: Target) -> list[str]:
    """Workers added after the shipped ones whose mapping the stack config deploys disabled."""
    return [name for name in added_names("stream", "queue") if not trigger_enabled(target.config, name)]


def test_start_then_end_pause_and_restore_with_stable_json_keys(local: Target) -> None:
    # Given the deployed local stack
    # When a window starts over the send worker and the scheduler, as a script would
    started = run_dmd(
        "maintenance",
        "start",
        "--stack",
        "local",
        "--reason",
        "CHG-7 [table] migration",
        "--workers",
        "notification_send, notification_scheduler",
        "--yes",
        "--json",
    )
    # Then it succeeds with the documented keys, the triggers paused and drained
    assert started.exit_code == 0, started.output
    document = json.loads(started.stdout)
    assert set(document) == START_KEYS
    assert {key for step in document["steps"] for key in step} == STEP_KEYS
    assert set(document["drain"]) == DRAIN_KEYS
    assert document["drain"]["drained"] is True
    assert (document["dryRun"], document["reason"], document["workers"]) == (
        False,
        "CHG-7 [table] migration",
        ["notification_scheduler", "notification_send"],
    )
    assert [(step["worker"], step["action"], step["enabledBefore"]) for step in document["steps"]] == [
        ("notification_scheduler", "pause", True),
        ("notification_send", "pause", True),
    ]
    mappings, rule = states(local)
    assert rule == "DISABLED"
    assert mappings[document["steps"][1]["id"]] == "Disabled"
    # (the one paused, and any added worker's mapping its stack config deploys disabled)
    assert sorted(mappings.values()).count("Disabled") == 1 + len(disabled_by_config(local))
    # And status shows the window and the paused triggers
    shown = run_dmd("maintenance", "status", "--stack", "local", "--json")
    assert shown.exit_code == 0, shown.output
    window = json.loads(shown.stdout)
    assert set(window) == STATUS_KEYS
    assert {key for row in window["triggers"] for key in row} == TRIGGER_KEYS
    assert set(window["maintenance"]) == {"reason", "startedBy", "startedAt", "workers"}
    assert window["active"] is True
    # When it ends
    ended = run_dmd("maintenance", "end", "--stack", "local", "--yes", "--json")
    # Then every trigger is back and the record gone
    assert ended.exit_code == 0, ended.output
    restored = json.loads(ended.stdout)
    assert set(restored) == END_KEYS
    assert {key for step in restored["steps"] for key in step} == RESTORE_KEYS
    assert [step["action"] for step in restored["steps"]] == ["enable", "enable"]
    mappings, rule = states(local)
    disabled = len(disabled_by_config(local))
    assert (sorted(mappings.values()), rule) == (
        sorted(["Enabled"] * (len(mappings) - disabled) + ["Disabled"] * disabled),
        "ENABLED",
    )
    assert active_maintenance(local) is None


def test_start_shows_its_plan_and_a_declined_confirmation_changes_nothing(local: Target) -> None:
    # Given the deployed local stack
    before = states(local)
    # When a window is started over every worker and the operator answers no
    result = run_dmd("maintenance", "start", "--stack", "local", "--reason", "look only", input="n\n")
    # Then the plan was shown, with the resolvers left out, and nothing changed
    assert result.exit_code == 1
    assert "pause: notification_send event-source-mapping" in result.stderr
    resolvers = ", ".join(["event_details", "proxy_tm_account_service", *added_names("resolver")])
    assert f"not paused: {resolvers} (resolvers are never paused)" in flat(result.stderr)
    assert "dmd: aborted: nothing changed" in result.stderr
    assert states(local) == before
    assert active_maintenance(local) is None


def test_a_dry_run_prints_the_plan_as_a_table_and_changes_nothing(local: Target) -> None:
    before = states(local)
    result = run_dmd(
        "maintenance",
        "start",
        "--stack",
        "local",
        "--reason",
        "rehearsal",
        "--workers",
        "shorten_event_url",
        "--dry-run",
    )
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout, ("worker", "trigger", "id", "before", "action"))
    assert [(row["trigger"], row["before"], row["action"]) for row in rows.values()] == [
        ("event-source-mapping", "enabled", "pause")
    ]
    assert "shorten_event_url" in rows
    assert "dry run: nothing changed" in result.stderr
    assert states(local) == before
    assert active_maintenance(local) is None


def test_start_twice_is_refused_and_changes_nothing(local: Target) -> None:
    # Given an active window over the send worker
    first = run_dmd(
        "maintenance",
        "start",
        "--stack",
        "local",
        "--reason",
        "first",
        "--workers",
        "notification_send",
        "--yes",
    )
    assert first.exit_code == 0, first.output
    during = states(local)
    # When someone starts another over everything
    second = run_dmd("maintenance", "start", "--stack", "local", "--reason", "second", "--yes")
    # Then it is refused, naming who started the first, when and why, and nothing changed
    assert second.exit_code == 1
    message = flat(second.stderr)
    assert message.startswith("dmd: maintenance already active on local since ")
    assert "by arn:aws:sts::123456789012:user/moto (reason: first): nothing changed" in message
    assert states(local) == during
    record = active_maintenance(local)
    assert record is not None and record.reason == "first"


def test_end_without_start_is_refused(empty_local: Target) -> None:
    result = run_dmd("maintenance", "end", "--stack", "local", "--yes")
    assert result.exit_code == 1
    assert result.stderr == "dmd: no maintenance window is active on local: nothing changed\n"
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--workers", "notification_send,nope"], "dmd: no worker 'nope' (workers: "),
        (["--workers", "proxy_tm_account_service"], "dmd: proxy_tm_account_service is an AppSync resolver"),
    ],
)
def test_an_unknown_worker_or_a_resolver_is_bad_input(
    empty_local: Target, arguments: list[str], message: str
) -> None:
    result = run_dmd("maintenance", "start", "--stack", "local", "--reason", "x", "--yes", *arguments)
    assert result.exit_code == 2
    assert flat(result.stderr).startswith(message)
    assert active_maintenance(empty_local) is None


def test_a_blank_reason_is_bad_input() -> None:
    result = run_dmd("maintenance", "start", "--stack", "local", "--reason", "  ", "--yes")
    assert result.exit_code == 2
    assert result.stderr == "dmd: --reason must say why: it is kept in the maintenance record\n"


def test_fail_if_active_exits_1_only_while_a_window_is_active(local: Target) -> None:
    # Given no window: status succeeds and shows every trigger enabled
    idle = run_dmd("maintenance", "status", "--stack", "local", "--fail-if-active")
    assert idle.exit_code == 0, idle.output
    assert "local: no maintenance window is active" in idle.stdout
    rows = table_rows(idle.stdout, ("worker", "trigger", "id", "state", "before maintenance"))
    added = added_names("queue", "stream", "schedule")
    assert {row["state"] for name, row in rows.items() if name not in added} == {"Enabled", "ENABLED"}
    # (an added worker's trigger as its stack config deploys it)
    assert {name: row["state"] in ("Enabled", "ENABLED") for name, row in rows.items() if name in added} == {
        name: trigger_enabled(local.config, name) for name in added
    }
    # When a window is active
    run_dmd("maintenance", "start", "--stack", "local", "--reason", "deploy freeze", "--yes")
    active = run_dmd("maintenance", "status", "--stack", "local", "--fail-if-active")
    # Then status still shows it, and exits 1 with the reason the deploy must wait
    assert active.exit_code == 1
    assert "local: maintenance ACTIVE since" in active.stdout
    assert "reason: deploy freeze" in active.stdout
    assert flat(active.stderr).startswith("dmd: maintenance active on local since ")
    assert "refusing (end it with `dmd maintenance end --stack local` first)" in flat(active.stderr)
    # And without the flag it exits 0
    assert run_dmd("maintenance", "status", "--stack", "local").exit_code == 0


def test_start_past_its_drain_bound_warns_naming_the_busy_workers_and_exits_0(local: Target) -> None:
    # Given the send worker ran in the last minute (a ConcurrentExecutions datapoint)
    local.clients.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "ConcurrentExecutions",
                "Dimensions": [{"Name": "FunctionName", "Value": "prd3292-local-us-east-1-ntfcn-snd"}],
                "Value": 1,
                "Timestamp": datetime.now(UTC) - timedelta(seconds=20),
            }
        ],
    )
    # When a window starts over it with no time to drain
    result = run_dmd(
        "maintenance",
        "start",
        "--stack",
        "local",
        "--reason",
        "hurry",
        "--workers",
        "notification_send",
        "--drain-timeout",
        "0",
        "--yes",
    )
    # Then the pause holds, exit 0, and the warning names the busy worker
    assert result.exit_code == 0, result.output
    assert "dmd: warning: still busy after 0 s: notification_send; the pause holds" in flat(result.stderr)
    assert "not drained after 0 s" in result.stdout
    assert active_maintenance(local) is not None


def test_the_help_explains_why_not_concurrency_zero_with_an_example() -> None:
    result = run_dmd("maintenance", "start", "--help")
    assert result.exit_code == 0
    text = flat(result.stdout)
    assert "Not reserved concurrency 0" in text
    assert "Example: dmd maintenance start --stack prod1" in text
