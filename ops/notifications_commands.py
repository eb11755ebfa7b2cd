"""`dmd notifications`: look a fan's notifications up, retry a FAILED one (runbook notification-not-sent)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ops.notifications import (
    NotificationKeyError,
    NotificationView,
    RetryAssessment,
    RetryOutcome,
    RetryPolicy,
    RetryResult,
    UnreadNotificationsError,
    assess_retry,
    count_outcomes,
    dry_run_result,
    fan_notification_items,
    not_found,
    notification_item,
    notification_repository,
    notification_view,
    parse_notification_key,
    read_items,
    retry_notification,
    sale_notification_keys,
    utc_now,
)
from ops.operator_io import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    DryRunOption,
    EndpointOption,
    JsonOption,
    StackOption,
    YesOption,
    aws_errors,
    confirm,
    errors_console,
    fail,
    print_json,
    progress,
    show,
    table,
    target_for,
)
from workers.shared.keys import Key, notification_reference
from workers.shared.models import ContactMethod
from workers.shared.repository import DemandRepository
from workers.shared.statuses import NotificationStatus

app = typer.Typer(
    help="A fan's notifications: look them up, retry a FAILED one (runbook notification-not-sent).",
    no_args_is_help=True,
)

SaleOption = Annotated[str | None, typer.Option("--sale", help="The sale's id (e.g. public).")]
EventOption = Annotated[
    str | None, typer.Option("--event", help="The sale's event id (sale ids such as 'public' repeat).")
]
# Above this many rows a retry's table lists only the notifications that were not retried.
_ALL_ROWS_UP_TO = 20


@app.command("show")
def show_command(
    fan_id: Annotated[str, typer.Argument(help="The fan's id (notifications live under PK fan:<id>).")],
    *,
    stack: StackOption,
    sale: SaleOption = None,
    event: EventOption = None,
    json_output: JsonOption = False,
    endpoint_url: EndpointOption = None,
) -> None:
    """Every notification of a fan: status, attempts, vendor ids, last error and status history.

    Example: dmd notifications show 4412 --sale public --stack prod1

    --json prints {"stack", "fanId", "notifications": [...]}, one object per notification with
    "pk", "sk", "fanId", "eventId", "saleId", "saleName", "contactMethod", "type", "status",
    "statusAt", "sendAttempts", "smsMessageId", "sesMessageId", "appId", "recipient" (masked),
    "saleStartDateTime", "nextAttemptAt", "claimId", "claimedAt", "claimExpiresAt", "sweepAt",
    "lastError", "history" ([{"status", "at"}], oldest first: the last time each status was
    reached) and "errors" ([{"statusCode", "reason", "timestamp", "answerLost"}]).
    Exit codes: 0 shown; 1 the fan has no notifications (of that sale); 2 bad input or AWS unreachable.
    """
    target = target_for(stack, endpoint_url)
    repository = notification_repository(target)
    with aws_errors(f"read the notifications of fan {fan_id}"):
        items = fan_notification_items(repository, fan_id, sale_id=sale, event_id=event)
    if not items:
        of_sale = f" of sale {sale}" if sale else ""
        fail(f"no notifications for fan {fan_id}{of_sale} (stack {stack})")
    views = [notification_view(item) for item in items]
    if json_output:
        print_json(
            {
                "stack": stack,
                "fanId": fan_id,
                "notifications": [view.model_dump(mode="json") for view in views],
            }
        )
        return
    show(_notifications_table(f"fan {fan_id} on {stack}: {len(views)} notification(s)", views))
    for view in views:
        show(Text(f"\n{notification_reference(view.key)} ({view.contact_method}, {view.recipient})"))
        show(_history_table(view))
        show(Text(_send_state(view)))


@app.command("retry")
def retry_command(
    *,
    stack: StackOption,
    fan: Annotated[str | None, typer.Option("--fan", help="The fan's id (with --sale).")] = None,
    sale: SaleOption = None,
    event: EventOption = None,
    method: Annotated[
        ContactMethod | None, typer.Option("--method", help="Only this contact method (default: both).")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="One notification by PK/SK (or PK|SK, as logged).")
    ] = None,
    all_failed: Annotated[
        bool, typer.Option("--all-failed", help="Every FAILED notification of the sale (--event, --sale).")
    ] = False,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    json_output: JsonOption = False,
    endpoint_url: EndpointOption = None,
) -> None:
    """Hand FAILED notifications back to the sender: RETRY, send state reset, one conditional write each.

    Example: dmd notifications retry --stack prod1 --fan 4412 --sale public --method sms

    Only a FAILED notification is retried, and only while its sale has not started (plus the
    late grace) and, for an SMS the service took, once its 24-hour de-duplication window is over;
    anything else is refused with the reason (DELIVERED: already delivered, RETRY: already
    waiting for the sender, ...). Retrying again is harmless: the second run finds it waiting.
    Select with --fan F --sale S [--event E] [--method M], with --key PK/SK, or sale-wide with
    --all-failed --event E --sale S (counted, then confirmed). Safe: the SMS service
    de-duplicates each notification's requests, and the write is conditional.
    --json prints {"stack", "dryRun", "selection", "found", "results": [{"pk", "sk",
    "statusBefore", "outcome", "reason"}], "counts": {"retried", "would-retry",
    "already-waiting", "refused", "changed", "not-found"}}.
    Exit codes: 0 every FAILED notification selected was retried (a dry run: would be) or is
    already waiting, or a sale has none; 1 a FAILED one was refused or changed meanwhile, none
    selected can be retried or is waiting (e.g. DELIVERED), the key has no notification, or the
    confirmation was declined; 2 bad input or AWS unreachable.
    """
    selection = _selection(fan=fan, sale=sale, event=event, method=method, key=key, all_failed=all_failed)
    target = target_for(stack, endpoint_url)
    policy = RetryPolicy.of_config(target.config)
    repository = notification_repository(target)
    now = utc_now()
    with aws_errors("read the notifications"):
        if key is not None:
            found = notification_item(repository, _key(key))
            items = [found] if found is not None else []
        elif fan is not None:
            items = fan_notification_items(repository, fan, sale_id=sale, event_id=event, method=method)
        else:
            items = _sale_items(repository, str(event), str(sale), method)
    if fan is not None and not items:
        of_sale = f" of sale {sale}" + (f" ({method.value})" if method else "")
        fail(f"no notifications for fan {fan}{of_sale} (stack {stack})")
    assessments = [assess_retry(item, policy, now=now) for item in items]
    if all_failed:
        assessments = [item for item in assessments if item.status == NotificationStatus.FAILED]
    with aws_errors("retry the notifications"):
        results = (
            [not_found(_key(key))]
            if key is not None and not items
            else _retry(
                repository,
                assessments,
                policy,
                stack=stack,
                scope=_scope(selection),
                dry_run=dry_run,
                yes=yes,
                sale_wide=all_failed,
            )
        )
    if json_output:
        print_json(
            {
                "stack": stack,
                "dryRun": dry_run,
                "selection": selection,
                "found": len(items),
                "results": [result.as_dict() for result in results],
                "counts": count_outcomes(results),
            }
        )
    else:
        _show_results(stack, results, all_failed=all_failed, scope=_scope(selection))
    if not _all_done(results):
        raise typer.Exit(EXIT_FAILED)


# --------------------------------------------------------------------------------------------
# Retry steps
# --------------------------------------------------------------------------------------------


def _selection(
    *,
    fan: str | None,
    sale: str | None,
    event: str | None,
    method: ContactMethod | None,
    key: str | None,
    all_failed: bool,
) -> dict[str, Any]:
    """The notifications asked for, as JSON; exits 2 unless exactly one way of choosing them is used."""
    ways = sum((key is not None, fan is not None, all_failed))
    if ways != 1:
        fail(
            "say which notifications: --fan F --sale S, --key PK/SK, or --all-failed --event E --sale S",
            code=EXIT_BAD_INPUT,
        )
    if key is not None and any(value is not None for value in (sale, event, method)):
        fail("--key names one notification: drop --sale, --event and --method", code=EXIT_BAD_INPUT)
    if fan is not None and sale is None:
        fail("--fan needs --sale (the sale whose reminder was not sent)", code=EXIT_BAD_INPUT)
    if all_failed and (sale is None or event is None):
        fail(
            "--all-failed needs --event and --sale (sale ids such as 'public' repeat across events)",
            code=EXIT_BAD_INPUT,
        )
    if key is not None:
        _key(key)  # malformed: exit 2 before any AWS call
    return {
        "fanId": fan,
        "eventId": event,
        "saleId": sale,
        "method": method.value if method else None,
        "key": key,
        "allFailed": all_failed,
    }


def _key(text: str) -> Key:
    try:
        return parse_notification_key(text)
    except NotificationKeyError as error:
        fail(str(error), code=EXIT_BAD_INPUT)


def _scope(selection: dict[str, Any]) -> str:
    if selection["key"]:
        return str(selection["key"])
    sale = f"sale {selection['saleId']}" + (
        f" of event {selection['eventId']}" if selection["eventId"] else ""
    )
    method = f" ({selection['method']})" if selection["method"] else ""
    if selection["allFailed"]:
        return f"{sale}{method}"
    return f"fan {selection['fanId']}, {sale}{method}"


def _sale_items(
    repository: DemandRepository, event: str, sale: str, method: ContactMethod | None
) -> list[dict[str, Any]]:
    """Every notification item of the sale: its keys from the index, then the items (with progress)."""
    keys: list[Key] = []
    with progress(f"listing the notifications of sale {sale}", None) as advance:
        for found in sale_notification_keys(repository, event, sale, method=method):
            keys.append(found)
            advance()
    with progress("reading their status", len(keys)) as advance:
        try:
            return read_items(repository, keys, on_read=advance)
        except UnreadNotificationsError as error:
            fail(
                f"cannot read the notifications of sale {sale}: {error} (throttled: try again)",
                code=EXIT_BAD_INPUT,
            )


def _retry(
    repository: DemandRepository,
    assessments: Sequence[RetryAssessment],
    policy: RetryPolicy,
    *,
    stack: str,
    scope: str,
    dry_run: bool,
    yes: bool,
    sale_wide: bool,
) -> list[RetryResult]:
    """Show the plan, confirm, and retry each retryable notification (a dry run writes nothing)."""
    retryable = [item for item in assessments if item.retryable]
    console = errors_console()
    if sale_wide:
        refused = len(assessments) - len(retryable)
        console.print(
            f"{len(assessments)} FAILED notification(s) of {scope} on {stack}: "
            f"{len(retryable)} to retry, {refused} refused",
            markup=False,
            highlight=False,
        )
    if dry_run:
        console.print("dry run: nothing changed", markup=False, highlight=False)
        return [dry_run_result(item) for item in assessments]
    if retryable:
        plan = [
            f"Retry on {stack}: {len(retryable)} FAILED notification(s) of {scope} → RETRY "
            "(send attempts reset, claim and vendor ids cleared, back on the pending index); "
            "the sender sends each within seconds."
        ]
        if not sale_wide:
            plan += [f"  {notification_reference(item.key)}: {item.reason}" for item in retryable]
        confirm(plan, yes=yes)
    results: list[RetryResult] = []
    with progress("retrying", len(assessments) if sale_wide else None) as advance:
        for assessment in assessments:
            results.append(retry_notification(repository, assessment, policy, now=utc_now()))
            advance()
    return results


def _all_done(results: Sequence[RetryResult]) -> bool:
    """Every FAILED notification selected went back to the sender, and something is on its way."""
    # A delivered email next to the retried SMS of the same fan and sale is no reason to fail.
    blocked = any(
        result.outcome in (RetryOutcome.CHANGED, RetryOutcome.NOT_FOUND)
        or (result.outcome is RetryOutcome.REFUSED and result.status_before == NotificationStatus.FAILED)
        for result in results
    )
    return not results or (not blocked and any(result.outcome.succeeded for result in results))


def _show_results(stack: str, results: Sequence[RetryResult], *, all_failed: bool, scope: str) -> None:
    counts = count_outcomes(results)
    if not results:
        what = "FAILED notifications" if all_failed else "notifications"
        errors_console().print(f"no {what} of {scope} on {stack}: nothing to retry", markup=False)
        return
    shown = [item for item in results if len(results) <= _ALL_ROWS_UP_TO or not item.outcome.succeeded]
    if shown:
        show(
            table(
                f"retry on {stack}: {scope}",
                ("notification", "before", "outcome", "reason"),
                (
                    (notification_reference(item.key), item.status_before, item.outcome.value, item.reason)
                    for item in shown
                ),
            )
        )
    summary = ", ".join(f"{outcome} {number}" for outcome, number in counts.items() if number)
    errors_console().print(summary, markup=False, highlight=False)


# --------------------------------------------------------------------------------------------
# Show's tables
# --------------------------------------------------------------------------------------------


def _notifications_table(title: str, views: Sequence[NotificationView]) -> Table:
    return table(
        title,
        ("notification", "status", "since", "attempts", "vendor id", "last error"),
        (
            (
                view.sk.removeprefix("notification#"),
                view.status,
                view.status_at,
                view.send_attempts,
                view.sms_message_id or view.ses_message_id,
                _error_text(view),
            )
            for view in views
        ),
    )


def _error_text(view: NotificationView) -> str | None:
    error = view.last_error
    if error is None:
        return None
    code = f"{error.status_code} " if error.status_code is not None else ""
    lost = " (answer lost)" if error.answer_lost else ""
    return f"{code}{error.reason}{lost}"


def _history_table(view: NotificationView) -> Table:
    """The notification's timeline: statuses reached and errors, oldest first."""
    rows = [(entry.at, entry.status, "") for entry in view.history]
    rows += [
        (
            error.timestamp or "",
            "error",
            f"{error.status_code} {error.reason}" if error.status_code is not None else error.reason,
        )
        for error in view.errors
    ]
    # An error and the status it caused share a time: the error first.
    return table("", ("at", "what", "detail"), sorted(rows, key=lambda row: (row[0], row[1] != "error")))


def _send_state(view: NotificationView) -> str:
    """The notification's send state in one line: sale start, backoff, claim, pending index, app id."""
    state = [f"sale starts {view.sale_start_date_time}"]
    if view.next_attempt_at:
        state.append(f"next attempt {view.next_attempt_at}")
    if view.claim_id:
        state.append(f"claimed {view.claimed_at} until {view.claim_expires_at or 'no lease'}")
    if view.sweep_at:
        state.append(f"pending: the sweeper may release it after {view.sweep_at}")
    if view.app_id:
        state.append(f"app id {view.app_id}")
    return " · ".join(state)
