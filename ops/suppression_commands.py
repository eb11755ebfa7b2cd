"""`dmd suppression`: tell Ticketmaster which events reminders are suppressed for (runbook suppression)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from ops.operator_io import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    DryRunOption,
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
from ops.secrets import SecretsError, secret_name
from ops.suppression import (
    CachedEvents,
    EventOutcome,
    PublishReport,
    SuppressionError,
    check_event_ids,
    publish_api_key,
    publish_client,
    publish_events,
    read_events,
    report,
    scan_events,
    table_item_count,
)
from ops.target import Target
from workers.shared.publish import EXTENSION

app = typer.Typer(help="Event suppression: publish it to TM Publish.", no_args_is_help=True)

RESULT_COLUMNS = ("event", "suppressed", "reason", "outcome", "error")


def _read(target: Target, event_ids: tuple[str, ...]) -> CachedEvents:
    table_name = target.fleet.table_name
    if event_ids:
        with progress("reading events", total=len(event_ids)) as advance:
            return read_events(target.clients, table_name, event_ids, on_event=lambda _id: advance())
    with progress(
        f"scanning {table_name} for events", total=table_item_count(target.clients, table_name)
    ) as advance:
        return scan_events(
            target.clients,
            table_name,
            on_page=lambda scanned, _found: advance(scanned),
        )


def _show(published: PublishReport) -> None:
    verb = "would publish" if published.dry_run else "published"
    failures = [outcome for outcome in published.results if outcome.outcome == "failed"]
    shown = failures if not published.dry_run else list(published.results)
    if shown:
        rows = [
            (
                outcome.event_id,
                "-" if outcome.is_suppressed is None else ("yes" if outcome.is_suppressed else "no"),
                outcome.reason,
                outcome.outcome,
                outcome.error,
            )
            for outcome in shown
        ]
        title = "events" if published.dry_run else "failed events"
        show(table(f"{published.stack}: {title}", RESULT_COLUMNS, rows))
    count = published.events if published.dry_run else published.published
    show(
        f"{published.stack}: {verb} {count} of {published.events} cached events "
        f"({published.suppressed} suppressed) to {published.url}; {published.failed} failed"
    )


@app.command("publish")
def publish_command(
    *,
    stack: StackOption,
    event_ids: Annotated[
        list[str] | None,
        typer.Option(
            "--event-id", help="Publish only this event (repeat for several); default: every event."
        ),
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="TM Publish base URL (default: the stack's vendors.publishUrl).")
    ] = None,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    json_output: JsonOption = False,
) -> None:
    """PUT each cached event's suppression status to TM Publish as its demand-capture extension.

    The runbook's publishSuppression. Events are the demand table's cached events (`type: event`,
    `event:{id}` / `event#details`). Without --event-id they are found by a paginated Scan of the
    whole table: no index lists events, so it reads every item (fans, notifications too); during a
    sale prefer --event-id, which reads each named event by its key. Each event's
    `PUT {url}/events/{id}/extensions/demand-capture-suppression` carries {eventId, isSuppressed,
    reason, publishedAt} and replaces the extension, so publishing again is harmless. The API key
    is the stack's `publish` secret (`dmd secrets set --stack S publish`), sent as x-api-key.
    --dry-run reads and lists the events and sends nothing (no key needed). Exit 1 if any event
    failed (refused, API down after 3 attempts, invalid cached item, --event-id with no cached
    event); the others are still published.

    JSON keys: {stack, url, dryRun, events, suppressed, published, failed, results: [{eventId,
    isSuppressed, reason, outcome (published|failed|would-publish), error}]}.

    Example: dmd suppression publish --stack prod1 --dry-run

    Example: dmd suppression publish --stack qa1 --event-id vvG1zZ9abc --event-id G5vYZ4abc --yes
    """
    target = target_for(stack)
    try:
        wanted = check_event_ids(event_ids or ())
    except SuppressionError as error:
        fail(str(error), code=EXIT_BAD_INPUT)
    base_url = (url or target.config.vendors.publish_url).rstrip("/")
    with aws_errors(f"read the events of {stack}"):
        with progress(f"reading {stack}'s graph", total=None):
            fleet = target.fleet
        try:
            secret = secret_name(fleet, "publish")
        except SecretsError as error:
            fail(f"{error}: deploy the stack first", code=EXIT_FAILED)
        cached = _read(target, wanted)
        client = None
        if not dry_run:
            try:
                client = publish_client(base_url, publish_api_key(target.clients, secret))
            except SuppressionError as error:
                fail(str(error), code=EXIT_FAILED)
    events = cached.events
    if client is not None and events:
        suppressed = sum(1 for event in events if event.is_suppressed)
        confirm(
            [
                f"stack {stack}: PUT the {EXTENSION} extension of {len(events)} events "
                f"({suppressed} suppressed) to {base_url}",
            ],
            yes=yes,
            question="Publish?",
        )
    outcomes: list[EventOutcome] = list(cached.unusable)
    with progress("publishing" if client else "listing", total=len(events)) as advance:
        outcomes += publish_events(client, events, at=datetime.now(UTC), on_event=lambda _outcome: advance())
    published = report(stack=stack, url=base_url, dry_run=dry_run, events=events, outcomes=outcomes)
    if json_output:
        print_json(published.model_dump())
    else:
        _show(published)
    if published.failed:
        errors_console().print(
            f"dmd: {published.failed} of {len(outcomes)} events failed", markup=False, highlight=False
        )
        raise typer.Exit(EXIT_FAILED)
