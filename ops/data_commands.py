"""`dmd data`: test data of a non-production stack (runbook test-data)."""

from __future__ import annotations

from typing import Annotated

import typer

from ops.data_clear import ClearPlan, IdsError, TestData, parse_ids
from ops.operator_io import (
    EXIT_BAD_INPUT,
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

app = typer.Typer(help="Test data of non-production stacks.", no_args_is_help=True)

SHOWN_ITEMS = 50  # a dry run lists this many items in the table (JSON lists them all)


@app.command("clear")
def clear(
    *,
    stack: StackOption,
    ids: Annotated[
        str,
        typer.Option(
            "--ids",
            help="Fan and/or event ids, comma-separated (each is looked up as both).",
            show_default=False,
        ),
    ],
    scan_messages: Annotated[
        bool,
        typer.Option(
            "--scan-messages",
            help="Also Scan the table (paginated) for SMS message items of earlier sends of these "
            "notifications; without it only each notification's last message is found.",
        ),
    ] = False,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    json_output: JsonOption = False,
) -> None:
    """Delete every item of the demand table that references these fans or events (never production).

    Each id is taken as a fan id (its partition `fan:{id}`: demand and notifications, `notification`
    and `notification:asu`) and as an event id (its partition `event:{id}`: the cached event with its
    short URL and its sales; the `demand-by-sale` index: every fan's demand and notifications of the
    event), plus the SMS message item (`message:{id}`, reference and held statuses) of each SMS
    notification. Index entries (sales, demand-by-sale, message id, pending) go with their items.
    All by Query and BatchGetItem; only --scan-messages scans the table. Refused on any production
    stack whatever the flags. Ids that match nothing are reported; nothing found is not an error.

    JSON keys: stack, table, ids, unmatchedIds, dryRun, scannedItems, found (items per type),
    deleted (per type; zeros on a dry run), unprocessed (keys DynamoDB kept refusing), items (a dry
    run's list: pk, sk, type, foundBy).

    Example: dmd data clear --stack qa1 --ids 1A2B3C4D5E,vvG1IZ9KBxv3Tg --dry-run
    """
    try:
        wanted = parse_ids(ids)
    except IdsError as error:
        fail(str(error), code=EXIT_BAD_INPUT)
    target = target_for(stack)
    if target.production:
        fail(f"refusing: {stack} is a production stack (production: true): its data is never cleared")
    test_data = TestData(target.clients.client("dynamodb"), target.naming.table_name)
    console = errors_console()
    with aws_errors(f"read {test_data.table_name}"):
        plan = _find(test_data, wanted, scan_messages=scan_messages)
    counts = plan.counts()
    total = len(plan.items)
    summary = {
        "stack": stack,
        "table": test_data.table_name,
        "ids": list(wanted),
        "unmatchedIds": plan.unmatched_ids,
        "dryRun": dry_run,
        "scannedItems": plan.scanned_items,
        "found": counts,
    }
    if plan.unmatched_ids:
        console.print(f"no items reference: {', '.join(plan.unmatched_ids)}", markup=False, highlight=False)
    if total == 0 or dry_run:
        if json_output:
            deleted = dict.fromkeys(counts, 0)
            items = [item.as_json() for item in plan.items.values()]
            print_json({**summary, "deleted": deleted, "unprocessed": [], "items": items})
        elif total:
            _show_plan(plan, title=f"{test_data.table_name}: would delete")
        if total == 0:
            console.print("nothing to delete", markup=False, highlight=False)
        return
    confirm(
        [
            f"{stack}: delete {total} items of {test_data.table_name} referencing {', '.join(wanted)}:",
            *(f"  {kind}: {count}" for kind, count in counts.items() if count),
        ],
        yes=yes,
        question=f"Delete these {total} items?",
    )
    with aws_errors(f"delete items of {test_data.table_name}"), progress("deleting", total) as advance:
        result = test_data.delete(plan, on_deleted=advance)
    unprocessed = [{"pk": key.pk, "sk": key.sk} for key in result.unprocessed]
    if json_output:
        print_json({**summary, "deleted": result.deleted, "unprocessed": unprocessed})
    else:
        show(
            table(
                f"{test_data.table_name}: deleted",
                ("type", "found", "deleted"),
                [(kind, counts[kind], result.deleted[kind]) for kind in counts if counts[kind]],
            )
        )
    if result.unprocessed:
        fail(f"{len(result.unprocessed)} items were not deleted (throttled): run the same command again")


def _find(test_data: TestData, wanted: tuple[str, ...], *, scan_messages: bool) -> ClearPlan:
    # A Scan's bar counts items read against the table's (approximate, 6-hourly) item count.
    total = None
    if scan_messages:
        described = test_data.client.describe_table(TableName=test_data.table_name)["Table"]
        total = int(described.get("ItemCount", 0)) or None
    with progress("finding items", total) as advance:
        return test_data.find(
            wanted,
            scan_messages=scan_messages,
            on_step=lambda step: advance(0, description=f"finding items: {step}"),
            on_scan_page=lambda scanned: advance(scanned, description="scanning for message items"),
        )


def _show_plan(plan: ClearPlan, *, title: str) -> None:
    counts = plan.counts()
    show(table(title, ("type", "items"), [(kind, count) for kind, count in counts.items() if count]))
    items = list(plan.items.values())
    if items:
        shown = table(
            f"items ({len(items)})",
            ("pk", "sk", "type", "found by"),
            [(item.key.pk, item.key.sk, item.type, item.found_by) for item in items[:SHOWN_ITEMS]],
        )
        show(shown)
        if len(items) > SHOWN_ITEMS:
            show(f"… and {len(items) - SHOWN_ITEMS} more (--json lists them all)")
