"""`dmd config`: validate stack files and render their reference."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra import config_docs
from infra.config import (
    ConfigError,
    QueueTriggerSettings,
    ScheduleTriggerSettings,
    StackConfig,
    StreamTriggerSettings,
    TriggerSettings,
)
from infra.config.production_gate import PLACEHOLDER_RULE_NAMES, GateReport, production_gate
from infra.stack_files import load_committed, stack_file_values
from ops.operator_io import EXIT_FAILED, JsonModel, JsonOption, StackOption, fail, print_json

app = typer.Typer(help="Validate stack configuration and render its reference.", no_args_is_help=True)


def trigger_summary(trigger: TriggerSettings) -> str:
    """A short human summary of a worker's trigger settings."""
    state = "" if getattr(trigger, "enabled", True) else "DISABLED "
    match trigger:
        case StreamTriggerSettings():
            filters = f" · {len(trigger.filter_patterns)} filter(s)" if trigger.filter_patterns else ""
            return (
                f"{state}batch {trigger.batch_size} · window {trigger.maximum_batching_window_seconds}s · "
                f"x{trigger.parallelization_factor} · retries {trigger.maximum_retry_attempts} · "
                f"age {trigger.maximum_record_age_seconds}s{filters}"
            )
        case QueueTriggerSettings():
            concurrency = f" · max {trigger.maximum_concurrency}" if trigger.maximum_concurrency else ""
            window = trigger.maximum_batching_window_seconds
            return f"{state}batch {trigger.batch_size} · window {window}s{concurrency}"
        case ScheduleTriggerSettings():
            return f"{state}{trigger.schedule_expression}"
        case _:
            return "AppSync resolver"


class GateProblemJson(JsonModel):
    """One problem of the production gate (`--json`)."""

    key: str
    rule: str
    value: str
    message: str
    failing: bool


class WorkerSettingsJson(JsonModel):
    """One worker's resolved settings (`--json`)."""

    memory_mb: int
    timeout_seconds: int
    architecture: str
    reserved_concurrency: int
    log_retention_days: int
    log_streaming: bool
    trigger: str


class ValidationJson(JsonModel):
    """`dmd config validate --json`."""

    stack: str
    production: bool
    strict: bool
    passed: bool
    workers: dict[str, WorkerSettingsJson]
    problems: list[GateProblemJson]


def _workers_table(config: StackConfig) -> Table:
    table = Table(title=f"{config.stack}: resolved worker settings")
    for column in ("worker", "memory", "timeout", "arch", "reserved", "logs", "trigger"):
        table.add_column(column)
    for name, worker in config.workers.items():
        table.add_row(
            name,
            f"{worker.memory_mb} MB",
            f"{worker.timeout_seconds} s",
            worker.architecture,
            str(worker.reserved_concurrency),
            f"{worker.log_retention_days} d" + (" + stream" if worker.log_streaming else ""),
            trigger_summary(worker.trigger),
        )
    return table


def _validation_json(config: StackConfig, report: GateReport | None) -> ValidationJson:
    problems = report.problems if report is not None else ()
    return ValidationJson(
        stack=config.stack,
        production=config.production,
        strict=report is not None,
        passed=report is None or report.passed,
        workers={
            name: WorkerSettingsJson(
                memory_mb=worker.memory_mb,
                timeout_seconds=worker.timeout_seconds,
                architecture=worker.architecture,
                reserved_concurrency=worker.reserved_concurrency,
                log_retention_days=worker.log_retention_days,
                log_streaming=worker.log_streaming,
                trigger=trigger_summary(worker.trigger),
            )
            for name, worker in config.workers.items()
        },
        problems=[
            GateProblemJson(
                key=problem.key,
                rule=problem.rule,
                value=problem.value,
                message=problem.message,
                failing=problem.failing,
            )
            for problem in problems
        ],
    )


def _gate_summary(report: GateReport) -> str:
    placeholders = sum(problem.rule in PLACEHOLDER_RULE_NAMES for problem in report.problems)
    if not report.production:
        return (
            f"{report.stack}: {placeholders} placeholder(s) listed, not failing: {report.stack} is not a "
            "production stack (the production requirements apply to production stacks only)"
        )
    if report.passed:
        return f"{report.stack}: production gate passed"
    missing = len(report.problems) - placeholders
    return (
        f"{report.stack} is not ready for production: {placeholders} placeholder(s), "
        f"{missing} missing production requirement(s)"
    )


@app.command()
def validate(
    stack: StackOption,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Also run the production deploy gate: placeholders (every stack; they fail only "
            "production stacks) and what production needs (production stacks).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Validate a stack file and show every worker's resolved settings; `--strict`: the production gate.

    Without --strict: the stack file against the config models (exit 2 with one line per bad key).
    With --strict, also one line per gate problem, naming the full key path (as `pulumi config set
    --path` takes it), then a summary; exit 1 when a production stack (`production: true`) holds a
    placeholder (REPLACE_ME, a reserved domain such as example.com or *.example.invalid, a sample
    account id, a template subnet/security-group id) or lacks a paging alarm subscription (https or
    sms), the KMS key (platform.kms), the WAF (platform.api.waf.enabled), point-in-time recovery or
    deletion protection. A stack that is not production gets its placeholders listed, exit 0.
    CI runs `dmd config validate --stack prod1 --strict` before `pulumi preview`/`up` of prod1.

    --json keys: stack, production, strict, passed, workers (name → memoryMb, timeoutSeconds,
    architecture, reservedConcurrency, logRetentionDays, logStreaming, trigger), problems (key, rule,
    value, message, failing).

    Example: dmd config validate --stack prod1 --strict
    """
    stack_file = f"Pulumi.{stack}.yaml"
    try:
        config = load_committed(stack)
        report = production_gate(config, stack_file_values(stack)) if strict else None
    except ConfigError as error:
        Console(stderr=True).print(str(error), markup=False, highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        print_json(_validation_json(config, report).model_dump())
    else:
        console = Console()
        console.print(_workers_table(config))
        if report is not None:
            for problem in report.problems:
                console.print(problem.line(stack_file), markup=False, highlight=False, soft_wrap=True)
            console.print(_gate_summary(report), markup=False, highlight=False, soft_wrap=True)
    if report is not None and not report.passed:
        failing = sum(problem.failing for problem in report.problems)
        fail(f"production gate: {stack_file} has {failing} problem(s) that block a deploy", code=EXIT_FAILED)


@app.command()
def docs(
    check: Annotated[bool, typer.Option(help="Exit 1 if docs/configuration.md is stale.")] = False,
) -> None:
    """Render docs/configuration.md from the config models."""
    if check:
        current = config_docs.DOC_PATH.read_text(encoding="utf-8") if config_docs.DOC_PATH.exists() else ""
        if current != config_docs.render():
            typer.echo("docs/configuration.md is stale: run `dmd config docs`", err=True)
            raise typer.Exit(1)
        return
    changed = config_docs.write()
    typer.echo(f"docs/configuration.md {'updated' if changed else 'already up to date'}")
