"""`dmd suppression publish`: what the operator sees, confirmation, exit codes, the JSON answer."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto import mock_aws

from aws_clients import AwsClients
from infra.synth import ResourceGraph
from ops.target import Target
from sandbox.vendors import Reply
from tests.ops.cli_output import flat, run_dmd, table_rows
from tests.ops.publish_stack import API_KEY, FakePublish, cached_event, create_stack, repository

RESULT_COLUMNS = ("event", "suppressed", "reason", "outcome", "error")


@pytest.fixture
def publish() -> Iterator[FakePublish]:
    server = FakePublish()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def local_target(local_graph: ResourceGraph, monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    """`--stack local` resolved to a moto with three cached events (one suppressed) and the publish key."""
    with mock_aws():
        clients = AwsClients.for_emulator(None, region="us-east-1")
        target = create_stack(clients, local_graph)
        repo = repository(clients)
        repo.put_event(cached_event("evt-1", suppressed=True, reason="venue country GB is not notified"))
        repo.put_event(cached_event("evt-2"))
        repo.put_event(cached_event("evt-3"))
        monkeypatch.setattr("ops.operator_io.resolve_target", lambda stack, **_: target)
        yield target


@pytest.mark.usefixtures("local_target")
def test_every_cached_event_is_published_after_a_confirmation(publish: FakePublish) -> None:
    # When the operator publishes to the fake API and says yes
    result = run_dmd("suppression", "publish", "--stack", "local", "--url", publish.url, input="y\n")

    # Then every event's extension went out with its verdict, and the summary counts them
    assert result.exit_code == 0, result.output
    assert "PUT the demand-capture-suppression extension of 3 events (1 suppressed)" in flat(result.stderr)
    assert {event_id: body["isSuppressed"] for event_id, body in publish.published().items()} == {
        "evt-1": True,
        "evt-2": False,
        "evt-3": False,
    }
    assert publish.published()["evt-1"]["reason"] == "venue country GB is not notified"
    # (the runner echoes the typed "y" into stdout, a terminal would not)
    assert flat(result.stdout).endswith(
        f"local: published 3 of 3 cached events (1 suppressed) to {publish.url}; 0 failed"
    )
    assert API_KEY not in result.output


@pytest.mark.usefixtures("local_target")
def test_declining_sends_nothing(publish: FakePublish) -> None:
    result = run_dmd("suppression", "publish", "--stack", "local", "--url", publish.url, input="n\n")

    assert result.exit_code == 1
    assert "aborted: nothing changed" in flat(result.stderr)
    assert publish.requests == []


@pytest.mark.usefixtures("local_target")
def test_a_dry_run_lists_the_events_and_sends_nothing(publish: FakePublish) -> None:
    result = run_dmd("suppression", "publish", "--stack", "local", "--url", publish.url, "--dry-run")

    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout, RESULT_COLUMNS)
    assert {event: (row["suppressed"], row["outcome"]) for event, row in rows.items()} == {
        "evt-1": ("yes", "would-publish"),
        "evt-2": ("no", "would-publish"),
        "evt-3": ("no", "would-publish"),
    }
    assert "would publish 3 of 3 cached events" in flat(result.stdout)
    assert publish.requests == []


@pytest.mark.usefixtures("local_target")
def test_a_refused_event_fails_the_run_but_not_the_others(publish: FakePublish) -> None:
    # Given the API refusing evt-2
    publish.reply_for("evt-2", Reply(422, {"message": "event is not published"}))

    # When everything is published as JSON
    result = run_dmd("suppression", "publish", "--stack", "local", "--url", publish.url, "--yes", "--json")

    # Then the others went out, the refusal is reported with its reason, and the exit says it failed
    assert result.exit_code == 1
    answer = json.loads(result.stdout)
    assert set(answer) == {"stack", "url", "dryRun", "events", "suppressed", "published", "failed", "results"}
    assert (answer["events"], answer["suppressed"], answer["published"], answer["failed"]) == (3, 1, 2, 1)
    outcomes = {item["eventId"]: item for item in answer["results"]}
    assert set(outcomes["evt-2"]) == {"eventId", "isSuppressed", "reason", "outcome", "error"}
    assert outcomes["evt-2"]["outcome"] == "failed"
    assert "event is not published" in outcomes["evt-2"]["error"]
    assert set(publish.published()) == {"evt-1", "evt-3"}
    assert "dmd: 1 of 3 events failed" in flat(result.stderr)


@pytest.mark.usefixtures("local_target")
def test_named_events_only_and_an_unknown_id_is_a_failure(publish: FakePublish) -> None:
    result = run_dmd(
        "suppression", "publish", "--stack", "local", "--url", publish.url,
        "--event-id", "evt-3", "--event-id", "evt-404", "--yes",
    )  # fmt: skip

    assert result.exit_code == 1
    assert set(publish.published()) == {"evt-3"}
    rows = table_rows(result.stdout, RESULT_COLUMNS)
    assert rows["evt-404"]["error"] == "no cached event with this id"


def test_a_malformed_event_id_is_bad_input(publish: FakePublish) -> None:
    result = run_dmd("suppression", "publish", "--stack", "local", "--url", publish.url, "--event-id", "a#b")

    assert result.exit_code == 2
    assert "'a#b' is not an event id" in flat(result.stderr)
    assert publish.requests == []


def test_without_an_api_key_nothing_is_sent_and_the_fix_is_named(
    local_graph: ResourceGraph, monkeypatch: pytest.MonkeyPatch, publish: FakePublish
) -> None:
    # Given a stack whose publish secret was never set
    with mock_aws():
        target = create_stack(AwsClients.for_emulator(None, region="us-east-1"), local_graph, api_key=None)
        repository(target.clients).put_event(cached_event("evt-1"))
        monkeypatch.setattr("ops.operator_io.resolve_target", lambda stack, **_: target)

        result = run_dmd("suppression", "publish", "--stack", "local", "--url", publish.url, "--yes")

    assert result.exit_code == 1
    assert "dmd secrets set publish" in flat(result.stderr)
    assert publish.requests == []
