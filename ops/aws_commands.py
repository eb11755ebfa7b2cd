"""`dmd aws`: compare what is deployed with what the program declares."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aws_clients import AwsClients
from infra.config import ConfigError, StackConfig
from infra.offline import synthesize_stack
from infra.stack_files import load_committed
from infra.synth import StackFileError
from ops.aws_check import (
    AwsReadError,
    DeployedState,
    Finding,
    Status,
    check_account_concurrency,
    check_stack,
    checked_resources,
    unchecked_types,
)
from ops.operations_records import MaintenanceRecord, active_maintenance
from ops.target import Target

app = typer.Typer(help="Check deployed AWS resources against the stack's program.", no_args_is_help=True)

_STYLES = {Status.OK: "green", Status.MISSING: "bold red", Status.DRIFT: "yellow", Status.SKIPPED: "dim"}


def _findings_table(stack: str, findings: list[Finding], *, problems_only: bool) -> Table:
    table = Table(title=f"{stack}: deployed resources vs the program")
    for column in ("status", "kind", "resource", "check", "expected", "actual"):
        table.add_column(column, overflow="fold")
    for finding in findings:
        if problems_only and finding.status is Status.OK:
            continue
        style = _STYLES[finding.status]
        table.add_row(
            f"[{style}]{finding.status.value}[/{style}]",
            finding.kind,
            finding.resource,
            finding.check,
            finding.expected,
            finding.actual,
        )
    return table


def _maintenance(stack: str, config: StackConfig, clients: AwsClients) -> MaintenanceRecord | None:
    """The stack's active maintenance window: the triggers it paused are SKIPPED, not DRIFT."""
    try:
        return active_maintenance(Target(stack=stack, config=config, clients=clients))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise AwsReadError(f"ssm get_parameter (the maintenance record): {code}: {error}") from error


@app.command()
def check(
    stack: Annotated[str, typer.Option(help="Stack to check (Pulumi.<stack>.yaml).")],
    endpoint_url: Annotated[
        str | None, typer.Option(help="AWS emulator endpoint (fake credentials); default: real AWS.")
    ] = None,
    region: Annotated[str | None, typer.Option(help="Region (default: the stack's aws:region).")] = None,
    problems_only: Annotated[bool, typer.Option(help="List only MISSING, DRIFT and SKIPPED checks.")] = False,
) -> None:
    """Post-deploy check: what is deployed in the stack's account against what its program declares.

    Functions, aliases, event-source mappings, schedule rules (state), log groups and their
    subscription filters (destination), alarms, queues, the table (indexes, TTL, deletion protection,
    point-in-time recovery) and streams; and the account's Lambda concurrency quota
    (GetAccountSettings): DRIFT when it differs from platform.alarmTopic.accountConcurrencyLimit, or
    when the stack's reserved concurrency would leave fewer than 100 unreserved in the account
    (other stacks' and teams' reservations included). A rule or mapping that an active maintenance
    window paused (`dmd maintenance start`) is SKIPPED ("paused by maintenance since …"), not DRIFT.
    Exit 0 when all checks pass, 1 on any MISSING/DRIFT, 2 when the stack or AWS access is misconfigured.

    Example: dmd aws check --stack prod1 --problems-only
    """
    errors = Console(stderr=True)
    try:
        config = load_committed(stack)
        graph = synthesize_stack(stack)
    except (ConfigError, StackFileError) as error:
        errors.print(str(error), markup=False, highlight=False)
        raise typer.Exit(2) from None
    target_region = region or config.region
    clients = (
        AwsClients.for_emulator(endpoint_url, region=target_region)
        if endpoint_url
        else AwsClients(region=target_region)
    )
    state = DeployedState(clients)
    resources = checked_resources(graph)
    try:
        account = state.account_id()
        if account != config.account_id:
            errors.print(
                f"credentials are for account {account}, but stack {stack} deploys to {config.account_id}",
                markup=False,
            )
            raise typer.Exit(2)
        maintenance = _maintenance(stack, config, clients)
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=errors,
            transient=True,
        ) as progress:
            # Every resource of the graph, then the account's Lambda concurrency quota.
            task = progress.add_task(f"checking {stack}", total=len(resources) + 1)
            findings = check_stack(
                graph,
                state,
                on_progress=lambda resource: progress.update(
                    task, advance=1, description=f"checking {resource.name}"
                ),
                maintenance=maintenance,
            )
            progress.update(task, description="checking the account's Lambda concurrency quota")
            findings += check_account_concurrency(
                graph, state, config.platform.alarm_topic.account_concurrency_limit
            )
            progress.update(task, advance=1)
    except (AwsReadError, BotoCoreError) as error:
        errors.print(f"cannot read AWS: {error}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    console = Console()
    if not problems_only or any(finding.status is not Status.OK for finding in findings):
        console.print(_findings_table(stack, findings, problems_only=problems_only))
    counts = Counter(finding.status for finding in findings)
    summary = ", ".join(f"{counts[status]} {status.value}" for status in Status)
    console.print(f"{len(resources)} resources, {len(findings)} checks: {summary}")
    unchecked = unchecked_types(graph)
    if unchecked:
        listed = ", ".join(f"{token.split(':')[1]} ×{count}" for token, count in sorted(unchecked.items()))
        console.print(f"[dim]not covered by this check: {listed}[/dim]")
    if any(finding.failed for finding in findings):
        raise typer.Exit(1)
