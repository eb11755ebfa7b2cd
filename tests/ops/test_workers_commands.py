"""`dmd workers`: the catalog as the operator sees it, and what `invoke` refuses before starting a sandbox."""

from __future__ import annotations

from pathlib import Path

from infra.catalog import CATALOG
from tests.ops.cli_output import flat, run_dmd, table_rows

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
