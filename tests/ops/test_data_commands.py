"""`dmd data clear`: refuses production, asks first, dry-runs, and deletes every item of the ids."""

from __future__ import annotations

import json

import pytest

from aws_clients import AwsClients
from infra.stack_files import load_committed
from ops.target import Target
from tests.ops.cli_output import flat, run_dmd, table_rows
from tests.ops.demand_data import Seeded, seed_test_data, table_keys


@pytest.fixture
def seeded(deployed: AwsClients) -> Seeded:
    """fan-a and fan-b with evt-1 and evt-2 (tests/ops/demand_data.py)."""
    return seed_test_data(deployed)


@pytest.fixture
def local_target(deployed: AwsClients, monkeypatch: pytest.MonkeyPatch) -> Target:
    """`--stack local` resolved to the materialized moto stack."""
    target = Target(stack="local", config=load_committed("local"), clients=deployed)
    monkeypatch.setattr("ops.operator_io.resolve_target", lambda stack, **_: target)
    return target


def test_a_production_stack_is_refused_whatever_the_flags() -> None:
    # Given prod1, a production stack
    # When its test data is cleared, even with --yes, or as a dry run
    for flags in (["--yes"], ["--dry-run"], ["--yes", "--json"]):
        result = run_dmd("data", "clear", "--stack", "prod1", "--ids", "fan-a", *flags)

        # Then it is refused before any AWS call, exit 1, one line
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("dmd: refusing: prod1 is a production stack")
        assert result.stdout == ""


@pytest.mark.parametrize("ids", ["fan:a", "a,,b", "evt#1", "fan a"])
def test_a_malformed_id_is_bad_input(ids: str) -> None:
    # When an id with a key separator or whitespace (or an empty one) is given
    result = run_dmd("data", "clear", "--stack", "local", "--ids", ids)

    # Then it exits 2 naming it, before resolving the stack
    assert result.exit_code == 2
    assert result.stderr.startswith("dmd: ")


def test_a_dry_run_lists_what_would_go_and_deletes_nothing(
    local_target: Target, deployed: AwsClients, seeded: Seeded
) -> None:
    # Given the seeded local stack
    before = table_keys(deployed)

    # When fan-a and evt-1 are cleared as a dry run
    result = run_dmd("data", "clear", "--stack", "local", "--ids", "fan-a,evt-1", "--dry-run")

    # Then the counts per type and the items are shown, and the table is unchanged
    assert result.exit_code == 0, result.output
    counts = table_rows(result.stdout, ("type", "items"))
    assert {kind: row["items"] for kind, row in counts.items()} == {
        "event": "1",
        "sale": "1",
        "demand": "2",
        "notification": "3",
        "notification:asu": "1",
        "sms-message": "1",
    }
    items = table_rows(result.stdout, ("pk", "sk", "type", "found by"))
    assert items["message:SM-last"]["found by"] == "messageId of a notification"
    assert table_keys(deployed) == before


def test_a_dry_run_in_json_lists_every_item_with_stable_keys(
    local_target: Target, deployed: AwsClients, seeded: Seeded
) -> None:
    # When the dry run is asked for JSON, with the message Scan
    result = run_dmd(
        "data",
        "clear",
        "--stack",
        "local",
        "--ids",
        "fan-a,evt-1,nobody",
        "--dry-run",
        "--json",
        "--scan-messages",
    )

    # Then the document has the documented keys, every item of the ids, and the unmatched id
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {
        *("stack", "table", "ids", "unmatchedIds", "dryRun", "scannedItems"),
        *("found", "deleted", "unprocessed", "items"),
    }
    assert document["dryRun"] is True and document["unmatchedIds"] == ["nobody"]
    assert {(item["pk"], item["sk"]) for item in document["items"]} == seeded.cleared
    assert set(document["items"][0]) == {"pk", "sk", "type", "foundBy"}
    assert sum(document["deleted"].values()) == 0
    assert "no items reference: nobody" in flat(result.stderr)
    assert table_keys(deployed) == seeded.cleared | seeded.kept


def test_a_declined_confirmation_deletes_nothing(
    local_target: Target, deployed: AwsClients, seeded: Seeded
) -> None:
    # When the clear is asked and the operator answers no
    result = run_dmd("data", "clear", "--stack", "local", "--ids", "fan-a,evt-1", input="n\n")

    # Then the plan was shown, it exits 1, and nothing was deleted
    assert result.exit_code == 1
    assert "delete 9 items of prd3292-local-us-east-1-demand-table" in flat(result.stderr)
    assert "sms-message: 1" in result.stderr
    assert "aborted: nothing changed" in result.stderr
    assert table_keys(deployed) == seeded.cleared | seeded.kept


def test_no_answer_is_never_a_yes(local_target: Target, deployed: AwsClients, seeded: Seeded) -> None:
    # When the clear is run with nothing on stdin (a script without --yes)
    result = run_dmd("data", "clear", "--stack", "local", "--ids", "fan-a")

    # Then it aborts and deletes nothing
    assert result.exit_code == 1
    assert table_keys(deployed) == seeded.cleared | seeded.kept


def test_clear_with_yes_deletes_every_item_of_the_ids_and_reports_counts(
    local_target: Target, deployed: AwsClients, seeded: Seeded
) -> None:
    # When fan-a and evt-1 are cleared with --yes, --scan-messages and --json
    result = run_dmd(
        "data", "clear", "--stack", "local", "--ids", "fan-a,evt-1", "--yes", "--scan-messages", "--json"
    )

    # Then every item referencing them is gone, the others are kept, and the counts say so
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert table_keys(deployed) == seeded.kept
    assert document["deleted"] == document["found"]
    assert document["deleted"]["sms-message"] == 2 and document["unprocessed"] == []
    assert sum(document["deleted"].values()) == len(seeded.cleared)
    assert "items" not in document


def test_confirmed_clear_shows_a_table_of_deletions(
    local_target: Target, deployed: AwsClients, seeded: Seeded
) -> None:
    # When the operator confirms with "y"
    result = run_dmd("data", "clear", "--stack", "local", "--ids", "evt-1", input="y\n")

    # Then the table shows found and deleted per type, and fan-a's other data is untouched by an event id
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout, ("type", "found", "deleted"))
    assert rows["notification"] == {"type": "notification", "found": "3", "deleted": "3"}
    assert ("fan:fan-a", "demand#evt-1-public") not in table_keys(deployed)
    assert ("event:evt-2", "event#details") in table_keys(deployed)


def test_ids_that_match_nothing_say_nothing_to_delete(local_target: Target, seeded: Seeded) -> None:
    # When ids nobody uses are cleared
    result = run_dmd("data", "clear", "--stack", "local", "--ids", "nobody", "--yes")

    # Then that is not an error: it says so and exits 0
    assert result.exit_code == 0, result.output
    assert "no items reference: nobody" in result.stderr
    assert "nothing to delete" in result.stderr


def test_the_help_has_an_example() -> None:
    result = run_dmd("data", "clear", "--help")
    assert result.exit_code == 0
    assert "Example: dmd data clear --stack qa1" in flat(result.stdout)
