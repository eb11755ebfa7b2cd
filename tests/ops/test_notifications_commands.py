"""`dmd notifications show|retry`: what the operator sees, the exit codes and what changes, against moto.

The commands reach the local stack materialized into in-process moto (`resolve_target` patched);
reminders are made FAILED as the sender makes them, on the wall clock (the retry reads it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ops.notifications import notification_item
from tests.ops.cli_output import flat, run_dmd, table_rows
from tests.ops.notification_builders import (
    EVENT,
    SALE,
    MotoStack,
    Sender,
    email,
    emptied,
    in_status,
    local_stack_in_moto,
    sms,
)
from workers.shared.keys import Key, notification_reference
from workers.shared.models import NotificationRecord, serialize_item
from workers.shared.repository import DemandRepository
from workers.shared.statuses import NotificationStatus as S

# Created 20 minutes ago: its sale opens in 1 h 40 min, so the never-late rule allows a retry.
CREATED = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
SHOW_COLUMNS = ("notification", "status", "since", "attempts", "vendor id", "last error")
RETRY_COLUMNS = ("notification", "before", "outcome", "reason")


@pytest.fixture(scope="module")
def local_stack() -> Iterator[MotoStack]:
    """The local stack in moto, materialized once for the module."""
    with local_stack_in_moto() as stack:
        yield stack


@pytest.fixture
def repository(local_stack: MotoStack, monkeypatch: pytest.MonkeyPatch) -> DemandRepository:
    """The emptied demand table the commands reach: `--stack local` resolves to the moto stack."""
    monkeypatch.setattr("ops.operator_io.resolve_target", lambda *_, **__: local_stack.target)
    return emptied(local_stack.target)


def failed(repository: DemandRepository, record: NotificationRecord) -> NotificationRecord:
    """The reminder, written and then failed by the sender (three 503s)."""
    repository.create_notification(record)
    Sender(repository, at=record.date.created).exhaust(record.key)
    return record


def put(repository: DemandRepository, item: dict[str, Any]) -> Key:
    """Write an item as it is; its key."""
    repository.client.put_item(TableName=repository.table_name, Item=serialize_item(item))
    return Key(item["PK"], item["SK"])


def stored(repository: DemandRepository, key: Key) -> dict[str, Any]:
    item = notification_item(repository, key)
    assert item is not None
    return item


def status_of(repository: DemandRepository, key: Key) -> str:
    return str(stored(repository, key)["status"]["id"])


# --------------------------------------------------------------------------------------------
# show
# --------------------------------------------------------------------------------------------


def test_show_lists_every_notification_of_the_fan_with_its_status_attempts_and_history(
    repository: DemandRepository,
) -> None:
    # Given a fan whose SMS failed three times and whose email was accepted by SES
    text = failed(repository, sms(created=CREATED))
    put(repository, in_status(email(created=CREATED), S.TRIGGERED, message_id="0100-ses-id"))

    # When the operator shows the fan
    result = run_dmd("notifications", "show", "4412", "--stack", "local")

    # Then one row per notification names its status, attempts, vendor id and last error
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout, SHOW_COLUMNS)
    assert rows[f"{EVENT}-public#sms"]["status"] == "FAILED"
    assert rows[f"{EVENT}-public#sms"]["attempts"] == "3"
    assert rows[f"{EVENT}-public#sms"]["last error"] == "503 Service Unavailable"
    assert rows[f"{EVENT}-public#email"]["status"] == "TRIGGERED"
    assert rows[f"{EVENT}-public#email"]["vendor id"] == "0100-ses-id"
    # And each notification's history follows, with its errors and its masked address
    output = flat(result.stdout)
    assert f"{text.reference} (sms, +1••••••0181)" in output
    assert f"{notification_reference(email().key)} (email, m••@fans.example.com)" in output
    assert output.count("503 Service Unavailable") >= 4  # the row's last error, the three in history


def test_show_narrows_to_a_sale(repository: DemandRepository) -> None:
    failed(repository, sms(created=CREATED))
    failed(repository, sms(created=CREATED, sale_id="presale"))

    result = run_dmd("notifications", "show", "4412", "--sale", "presale", "--stack", "local")

    assert result.exit_code == 0, result.output
    assert list(table_rows(result.stdout, SHOW_COLUMNS)) == [f"{EVENT}-presale#sms"]


def test_show_json_has_the_documented_keys(repository: DemandRepository) -> None:
    # Given a fan with a failed SMS
    failed(repository, sms(created=CREATED))

    # When shown as JSON
    result = run_dmd("notifications", "show", "4412", "--stack", "local", "--json")

    # Then the document and each notification have the keys the help documents
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"stack", "fanId", "notifications"}
    assert (document["stack"], document["fanId"]) == ("local", "4412")
    (notification,) = document["notifications"]
    assert set(notification) == {
        "pk", "sk", "fanId", "eventId", "saleId", "saleName", "contactMethod", "type", "status",
        "statusAt", "sendAttempts", "smsMessageId", "sesMessageId", "appId", "recipient",
        "saleStartDateTime", "nextAttemptAt", "claimId", "claimedAt", "claimExpiresAt", "sweepAt",
        "lastError", "history", "errors",
    }  # fmt: skip
    assert [entry["status"] for entry in notification["history"]] == ["CREATED", "RETRY", "FAILED"]
    assert set(notification["lastError"]) == {"statusCode", "reason", "timestamp", "answerLost"}


def test_show_of_an_unknown_fan_exits_1_with_the_reason(repository: DemandRepository) -> None:
    result = run_dmd("notifications", "show", "nobody", "--stack", "local")

    assert result.exit_code == 1
    assert flat(result.stderr) == "dmd: no notifications for fan nobody (stack local)"
    assert result.stdout == ""


def test_show_on_an_unknown_stack_exits_2() -> None:
    result = run_dmd("notifications", "show", "4412", "--stack", "prod9")

    assert result.exit_code == 2
    assert flat(result.stderr).startswith("dmd: unknown stack 'prod9'")


# --------------------------------------------------------------------------------------------
# retry: one notification
# --------------------------------------------------------------------------------------------


def test_retry_of_a_failed_sms_puts_it_back_to_retry_for_the_sender(repository: DemandRepository) -> None:
    # Given a fan's SMS that FAILED after three attempts, and its email, delivered by SES
    text = failed(repository, sms(created=CREATED))
    mail = put(repository, in_status(email(created=CREATED), S.TRIGGERED, message_id="0100-ses-id"))

    # When the operator retries the fan's SMS of the sale
    result = run_dmd(
        "notifications",
        "retry",
        "--stack",
        "local",
        "--fan",
        "4412",
        "--sale",
        SALE,
        "--method",
        "sms",
        "--yes",
    )

    # Then it is RETRY with its attempts reset, and the email was not touched
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout, RETRY_COLUMNS)
    assert rows[text.reference]["before"] == "FAILED"
    assert rows[text.reference]["outcome"] == "retried"
    assert rows[text.reference]["reason"].startswith("RETRY: handed back to the sender (FAILED at")
    after = stored(repository, text.key)
    assert (after["status"]["id"], after["sendAttempts"]) == ("RETRY", 0)
    assert status_of(repository, mail) == "TRIGGERED"
    # And the plan was shown before it was done
    assert "Retry on local: 1 FAILED notification(s) of fan 4412, sale public (sms) → RETRY" in flat(
        result.stderr
    )


def test_retry_of_a_fan_and_sale_retries_the_failed_sms_and_leaves_the_delivered_email_exiting_0(
    repository: DemandRepository,
) -> None:
    # Given a fan's FAILED SMS and its email, which SES took
    text = failed(repository, sms(created=CREATED))
    mail = put(repository, in_status(email(created=CREATED), S.TRIGGERED, message_id="0100-ses-id"))

    # When the operator retries the fan's sale, both methods
    result = run_dmd("notifications", "retry", "--stack", "local", "--fan", "4412", "--sale", SALE, "--yes")

    # Then the SMS is retried, the email is left with its reason, and the command succeeds
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout, RETRY_COLUMNS)
    assert rows[text.reference]["outcome"] == "retried"
    assert rows[notification_reference(mail)]["outcome"] == "refused"
    assert rows[notification_reference(mail)]["reason"].startswith("TRIGGERED: the vendor accepted it")
    assert status_of(repository, mail) == "TRIGGERED"


def test_retry_by_key_in_both_forms(repository: DemandRepository) -> None:
    first = failed(repository, sms("1", created=CREATED))
    second = failed(repository, sms("2", created=CREATED))

    slash = run_dmd(
        "notifications", "retry", "--stack", "local", "--key", f"{first.key.pk}/{first.key.sk}", "-y"
    )
    pipe = run_dmd("notifications", "retry", "--stack", "local", "--key", second.reference, "-y")

    assert (slash.exit_code, pipe.exit_code) == (0, 0), slash.output + pipe.output
    assert status_of(repository, first.key) == status_of(repository, second.key) == "RETRY"


@pytest.mark.parametrize(
    ("status", "fields", "exit_code", "reason"),
    [
        (S.DELIVERED, {"message_id": "SM1"}, 1, "DELIVERED: already delivered, nothing to retry"),
        (S.EXPIRED, {}, 1, "EXPIRED: its sale started before it could be sent (never late)"),
        (S.TRIGGERED, {"message_id": "SM1"}, 1, "TRIGGERED: the vendor accepted it at"),
        (
            S.QUEUED,
            {"message_id": "SM1"},
            1,
            "QUEUED: the SMS service has it (message SM1); nothing to retry",
        ),
        (S.SENT, {"message_id": "SM1"}, 1, "SENT: the SMS service has it (message SM1); nothing to retry"),
        (S.CREATED, {}, 0, "CREATED: waiting for its first send"),
        (S.RETRY, {}, 0, "RETRY: already waiting for the sender"),
    ],
)
def test_retry_of_a_notification_that_is_not_failed_changes_nothing_and_says_why(
    repository: DemandRepository, status: S, fields: dict[str, Any], exit_code: int, reason: str
) -> None:
    # Given an SMS reminder in `status`
    key = put(repository, in_status(sms(created=CREATED), status, **fields))
    before = stored(repository, key)

    # When the operator retries it (without --yes: nothing is asked when there is nothing to do)
    result = run_dmd("notifications", "retry", "--stack", "local", "--key", notification_reference(key))

    # Then it is left as it was, with the reason; waiting ones exit 0, the others 1
    assert result.exit_code == exit_code, result.output
    row = table_rows(result.stdout, RETRY_COLUMNS)[notification_reference(key)]
    assert row["before"] == status.value
    assert row["reason"].startswith(reason), row
    assert stored(repository, key) == before


def test_retry_twice_says_already_waiting_the_second_time_and_exits_0(repository: DemandRepository) -> None:
    # Given a FAILED SMS the operator retried
    text = failed(repository, sms(created=CREATED))
    first = run_dmd("notifications", "retry", "--stack", "local", "--key", text.reference, "--yes", "--json")
    after_first = stored(repository, text.key)

    # When the operator retries it again
    second = run_dmd("notifications", "retry", "--stack", "local", "--key", text.reference, "--yes", "--json")

    # Then the second run finds it waiting for the sender, changes nothing and exits 0
    assert (first.exit_code, second.exit_code) == (0, 0), first.output + second.output
    assert [row["outcome"] for row in json.loads(first.stdout)["results"]] == ["retried"]
    (row,) = json.loads(second.stdout)["results"]
    assert (row["statusBefore"], row["outcome"], row["reason"]) == (
        "RETRY",
        "already-waiting",
        "RETRY: already waiting for the sender",
    )
    assert stored(repository, text.key) == after_first


def test_retry_of_a_sale_that_already_started_is_refused(repository: DemandRepository) -> None:
    # Given a FAILED SMS whose sale opened 10 minutes ago (grace 5 minutes)
    late = failed(repository, sms(created=CREATED - timedelta(hours=2)))

    result = run_dmd("notifications", "retry", "--stack", "local", "--key", late.reference, "--yes")

    assert result.exit_code == 1
    reason = table_rows(result.stdout, RETRY_COLUMNS)[late.reference]["reason"]
    assert reason.endswith("(+ 5 min grace): the sender would expire it unsent (never late)")
    assert status_of(repository, late.key) == "FAILED"


def test_retry_answered_no_at_the_confirmation_changes_nothing(repository: DemandRepository) -> None:
    text = failed(repository, sms(created=CREATED))

    result = run_dmd("notifications", "retry", "--stack", "local", "--key", text.reference, input="n\n")

    assert result.exit_code == 1
    assert "dmd: aborted: nothing changed" in flat(result.stderr)
    assert status_of(repository, text.key) == "FAILED"


def test_retry_dry_run_says_what_it_would_do_and_changes_nothing(repository: DemandRepository) -> None:
    text = failed(repository, sms(created=CREATED))
    before = stored(repository, text.key)

    result = run_dmd("notifications", "retry", "--stack", "local", "--key", text.reference, "--dry-run")

    assert result.exit_code == 0, result.output
    row = table_rows(result.stdout, RETRY_COLUMNS)[text.reference]
    assert row["outcome"] == "would-retry"
    assert "dry run: nothing changed" in flat(result.stderr)
    assert stored(repository, text.key) == before


def test_retry_of_a_key_with_no_notification_exits_1(repository: DemandRepository) -> None:
    result = run_dmd("notifications", "retry", "--stack", "local", "--key", sms("ghost").reference, "--json")

    assert result.exit_code == 1
    (row,) = json.loads(result.stdout)["results"]
    assert (row["outcome"], row["reason"]) == ("not-found", "no such notification")


def test_retry_of_a_fan_without_notifications_for_the_sale_exits_1(repository: DemandRepository) -> None:
    result = run_dmd("notifications", "retry", "--stack", "local", "--fan", "nobody", "--sale", SALE)

    assert result.exit_code == 1
    assert flat(result.stderr) == "dmd: no notifications for fan nobody of sale public (stack local)"


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (("--key", "fan:4412/demand#e-s"), "is not a notification key: expected PK/SK such as"),
        (("--key", "notification#e-s#sms"), "is not a notification key"),
        ((), "say which notifications: --fan F --sale S, --key PK/SK, or --all-failed --event E --sale S"),
        (("--fan", "4412"), "--fan needs --sale"),
        (("--all-failed", "--sale", SALE), "--all-failed needs --event and --sale"),
        (("--fan", "4412", "--sale", SALE, "--key", "fan:1/notification#e-s#sms"), "say which notifications"),
        (("--key", "fan:1/notification#e-s#sms", "--sale", SALE), "--key names one notification"),
    ],
)
def test_retry_with_malformed_or_ambiguous_input_exits_2_before_any_change(
    repository: DemandRepository, arguments: tuple[str, ...], reason: str
) -> None:
    result = run_dmd("notifications", "retry", "--stack", "local", *arguments)

    assert result.exit_code == 2, result.output
    assert reason in flat(result.stderr)


def test_retry_json_has_the_documented_keys(repository: DemandRepository) -> None:
    text = failed(repository, sms(created=CREATED))

    result = run_dmd(
        "notifications", "retry", "--stack", "local", "--fan", "4412", "--sale", SALE, "--yes", "--json"
    )

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"stack", "dryRun", "selection", "found", "results", "counts"}
    assert document["selection"] == {
        "fanId": "4412", "eventId": None, "saleId": SALE, "method": None, "key": None, "allFailed": False,
    }  # fmt: skip
    assert document["found"] == 1
    assert document["results"] == [
        {
            "pk": text.key.pk,
            "sk": text.key.sk,
            "statusBefore": "FAILED",
            "outcome": "retried",
            "reason": document["results"][0]["reason"],
        }
    ]
    assert document["counts"] == {
        "retried": 1, "would-retry": 0, "already-waiting": 0, "refused": 0, "changed": 0, "not-found": 0,
    }  # fmt: skip


# --------------------------------------------------------------------------------------------
# retry --all-failed
# --------------------------------------------------------------------------------------------


@pytest.fixture
def sale_with_failures(repository: DemandRepository) -> dict[str, list[Key]]:
    """A sale with 3 FAILED SMS, a FAILED email, 2 delivered SMS; a FAILED SMS of another sale."""
    failed_keys = [failed(repository, sms(f"f{number}", created=CREATED)).key for number in range(3)]
    failed_keys.append(failed(repository, email("f0", created=CREATED)).key)
    delivered = [
        put(repository, in_status(sms(f"d{number}", created=CREATED), S.DELIVERED, message_id=f"SM{number}"))
        for number in range(2)
    ]
    other = [failed(repository, sms("f0", created=CREATED, sale_id="public-2")).key]
    return {"failed": failed_keys, "delivered": delivered, "other": other}


def test_all_failed_counts_the_sales_failures_and_answered_no_changes_nothing(
    repository: DemandRepository, sale_with_failures: dict[str, list[Key]]
) -> None:
    # When the operator asks for a sale-wide retry and answers no
    result = run_dmd(
        "notifications",
        "retry",
        "--stack",
        "local",
        "--all-failed",
        "--event",
        EVENT,
        "--sale",
        SALE,
        input="n\n",
    )

    # Then the count was shown, and nothing changed
    assert result.exit_code == 1
    stderr = flat(result.stderr)
    assert (
        f"4 FAILED notification(s) of sale public of event {EVENT} on local: 4 to retry, 0 refused" in stderr
    )
    assert "aborted: nothing changed" in stderr
    assert {status_of(repository, key) for key in sale_with_failures["failed"]} == {"FAILED"}


def test_all_failed_with_yes_retries_exactly_the_sales_failed_notifications(
    repository: DemandRepository, sale_with_failures: dict[str, list[Key]]
) -> None:
    # When the operator retries the sale's failures without being asked
    result = run_dmd(
        "notifications",
        "retry",
        "--stack",
        "local",
        "--all-failed",
        "--event",
        EVENT,
        "--sale",
        SALE,
        "--yes",
        "--json",
    )

    # Then the four FAILED ones of the sale are RETRY; the delivered ones and the other sale's stay
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["found"], document["counts"]["retried"], len(document["results"])) == (6, 4, 4)
    assert document["selection"]["allFailed"] is True
    assert {status_of(repository, key) for key in sale_with_failures["failed"]} == {"RETRY"}
    assert {status_of(repository, key) for key in sale_with_failures["delivered"]} == {"DELIVERED"}
    assert {status_of(repository, key) for key in sale_with_failures["other"]} == {"FAILED"}


def test_all_failed_narrowed_to_sms_dry_run_changes_nothing(
    repository: DemandRepository, sale_with_failures: dict[str, list[Key]]
) -> None:
    result = run_dmd(
        "notifications", "retry", "--stack", "local", "--all-failed", "--event", EVENT, "--sale", SALE,
        "--method", "sms", "--dry-run", "--json",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["dryRun"], document["counts"]["would-retry"], document["found"]) == (True, 3, 5)
    assert {status_of(repository, key) for key in sale_with_failures["failed"]} == {"FAILED"}


def test_all_failed_reports_the_refused_ones_and_exits_1(repository: DemandRepository) -> None:
    # Given a sale with one retryable FAILED SMS and one the SMS service took, then the carrier failed
    retryable = failed(repository, sms("f1", created=CREATED))
    taken = put(
        repository,
        in_status(
            sms("f2", created=CREATED),
            S.FAILED,
            message_id="SM9",
            date=sms(created=CREATED).date.model_copy(update={"triggered": CREATED, "failed": CREATED}),
        ),
    )

    # When the operator retries the sale's failures
    result = run_dmd(
        "notifications",
        "retry",
        "--stack",
        "local",
        "--all-failed",
        "--event",
        EVENT,
        "--sale",
        SALE,
        "--yes",
    )

    # Then one is retried and the other refused with the reason; the exit code says not all were
    assert result.exit_code == 1
    assert "2 FAILED notification(s) of sale public" in flat(result.stderr)
    assert "1 to retry, 1 refused" in flat(result.stderr)
    rows = table_rows(result.stdout, RETRY_COLUMNS)
    assert rows[retryable.reference]["outcome"] == "retried"
    assert rows[notification_reference(taken)]["reason"].startswith(
        "FAILED after the SMS service took message SM9"
    )
    assert status_of(repository, taken) == "FAILED"


def test_all_failed_of_a_sale_without_failures_says_so_and_exits_0(repository: DemandRepository) -> None:
    put(repository, in_status(sms(created=CREATED), S.DELIVERED))

    result = run_dmd(
        "notifications", "retry", "--stack", "local", "--all-failed", "--event", EVENT, "--sale", SALE
    )

    assert result.exit_code == 0, result.output
    assert f"no FAILED notifications of sale public of event {EVENT} on local: nothing to retry" in flat(
        result.stderr
    )
