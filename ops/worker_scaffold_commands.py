"""`dmd workers create|remove`: scaffold a working worker, or remove one and say what `pulumi up` destroys."""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Annotated, TypedDict

import typer

from infra.naming import Naming, log_group_name, on_failure_queue_name, schedule_dlq_name
from infra.stack_files import PROJECT_ROOT, committed_stacks, stack_file_values
from ops.operator_io import (
    EXIT_BAD_INPUT,
    DryRunOption,
    JsonOption,
    YesOption,
    confirm,
    errors_console,
    fail,
    print_json,
    progress,
    show,
    table,
)
from ops.scaffold.edits import ScaffoldError, catalog_workers
from ops.scaffold.plan import Plan, apply, plan_create, plan_remove, update_snapshots
from ops.scaffold.request import CATALOG_FILE, DEFAULT_SCHEDULE, WorkerRequest, validate_request


class TriggerKind(enum.StrEnum):
    """What invokes the new worker."""

    QUEUE = "queue"
    STREAM = "stream"
    SCHEDULE = "schedule"
    RESOLVER = "resolver"


ProjectRootOption = Annotated[
    Path,
    typer.Option(
        "--project-root",
        help="The repository to edit (its Pulumi.yaml folder).",
        show_default="this repository",
        file_okay=False,
        exists=True,
    ),
]
SnapshotsOption = Annotated[
    bool,
    typer.Option(
        "--snapshots/--no-snapshots",
        help="Regenerate tests/infra/snapshots afterwards (`make snapshots`, about 10 s per stack).",
    ),
]


def create(
    *,
    name: Annotated[str, typer.Argument(help="The worker's name: snake_case, its identity everywhere.")],
    trigger: Annotated[TriggerKind, typer.Option("--trigger", help="What invokes it.", show_default=False)],
    code: Annotated[
        str,
        typer.Option(
            "--code", help="Inventory code, e.g. fan-dgst (function prd3292-<env>-<region>-<code>)."
        ),
    ],
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help=(
                "queue: short_url | generation; stream: table | sms_status; schedule: the expression "
                f"(default {DEFAULT_SCHEDULE}); resolver: the Query field (default: the name in camelCase)."
            ),
        ),
    ] = None,
    description: Annotated[
        str | None,
        typer.Option("--description", help="One line for the catalog (default: from the trigger)."),
    ] = None,
    project_root: ProjectRootOption = PROJECT_ROOT,
    snapshots: SnapshotsOption = True,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
) -> None:
    """Scaffold a working worker: package, tests, catalog entry, stack config, snapshots.

    Writes workers/NAME/ (handler, logic, models, settings in the house pattern of its trigger),
    tests/workers/NAME/ (a logic test and a handler test against the environment the local stack
    declares), its CATALOG entry (TABLE_READ access; none for streams), its block under
    dmd-workers:workers in every stack file, a resolver's Query field and answer type in
    infra/schema.graphql, its lines in the test literals that pin the fleet, and then regenerates
    the snapshots (a fresh `dmd synth --update-snapshots`). `make test` and `dmd synth` accept the
    result as it is; review the diff, write the worker's real logic, commit. Nothing is deployed:
    CI's `pulumi up` does that. A queue worker on a queue another worker consumes is created with
    its mapping disabled (SQS gives each message to one consumer). `dmd workers remove` undoes it.

    JSON keys: worker, trigger, code, source, dryRun, files (action, path), snapshots (updated,
    skipped or dry-run), warnings.

    Example: dmd workers create fan_digest --trigger schedule --code fan-dgst --source "rate(1 hour)"
    """
    console = errors_console()
    root = project_root.resolve()
    try:
        request = validate_request(
            root, name=name, trigger=trigger.value, code=code, source=source, description=description
        )
        plan = plan_create(root, request)
    except ScaffoldError as error:
        fail(str(error), code=EXIT_BAD_INPUT)
    warnings = _create_warnings(request)
    for warning in warnings:
        console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    state = "dry-run" if dry_run else "updated" if snapshots else "skipped"
    if not dry_run:
        apply(root, plan)
        if snapshots:
            _update_snapshots(root)
    if json_output:
        print_json(
            {
                "worker": request.name,
                "trigger": request.trigger,
                "code": request.code,
                "source": request.source,
                "dryRun": dry_run,
                "files": _files(plan),
                "snapshots": state,
                "warnings": warnings,
            }
        )
    else:
        verb = "would write" if dry_run else "wrote"
        show(
            table(
                f"{request.name}: {verb}",
                ("action", "file"),
                [(f["action"], f["path"]) for f in _files(plan)],
            )
        )
    if not dry_run:
        for line in _next_steps(request, snapshots=snapshots):
            console.print(line, markup=False, highlight=False, soft_wrap=True)


def remove(
    *,
    name: Annotated[str, typer.Argument(help="The worker (catalog name).")],
    project_root: ProjectRootOption = PROJECT_ROOT,
    snapshots: SnapshotsOption = True,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
    json_output: JsonOption = False,
) -> None:
    """Remove a worker from the repository and say which `pulumi up` destroys what it deployed.

    Deletes workers/NAME/ and tests/workers/NAME/, its CATALOG entry, its block in every stack
    file, its Query field (and a scaffolded answer type) and its lines in the test literals that
    pin the fleet, then regenerates the snapshots. Files elsewhere that still name it are listed
    (a hand-written worker's other wiring: fix them before committing). Nothing in AWS changes
    until `pulumi up --stack S` runs for each stack (CI does it from main): that deletes the
    function, its alias, roles, alarms, its log group (the logs go with it), a stream worker's
    on-failure queue and a schedule's DLQ (their messages go with them: redrive or replay first).

    JSON keys: worker, dryRun, files (action, path), removedFolders, references, snapshots,
    pulumiUp (one command per stack), destroyed (per stack: function, logGroup, queues).

    Example: dmd workers remove fan_digest --dry-run
    """
    console = errors_console()
    root = project_root.resolve()
    try:
        catalog = catalog_workers((root / CATALOG_FILE).read_text(encoding="utf-8"))
        plan = plan_remove(root, name)
    except (ScaffoldError, OSError) as error:
        fail(str(error), code=EXIT_BAD_INPUT)
    worker = catalog[name]
    destroyed = _destroyed(root, worker.code, worker.source)
    files = _files(plan)
    if not json_output:
        rows = [(item["action"], item["path"]) for item in files]
        show(table(f"{name}: {'would remove' if dry_run else 'removes'}", ("action", "file"), rows))
    if plan.references:
        console.print(
            f"still named in (fix before committing): {', '.join(plan.references)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if not dry_run:
        confirm(
            [f"{name}: {len(files)} file changes under {root} (listed above)"],
            yes=yes,
            question=f"Remove {name}?",
        )
        apply(root, plan)
        if snapshots:
            _update_snapshots(root)
    pulumi_up = [f"pulumi up --stack {stack}" for stack in committed_stacks(root)]
    if json_output:
        print_json(
            {
                "worker": name,
                "dryRun": dry_run,
                "files": files,
                "removedFolders": list(plan.removed_folders),
                "references": list(plan.references),
                "snapshots": "dry-run" if dry_run else "updated" if snapshots else "skipped",
                "pulumiUp": pulumi_up,
                "destroyed": destroyed,
            }
        )
    console.print(
        "Deployed resources stay until each stack's `pulumi up` (CI, from main):",
        markup=False,
        soft_wrap=True,
    )
    for stack, names in destroyed.items():
        queues = ", ".join(names["queues"]) or "no queue of its own"
        console.print(
            f"  pulumi up --stack {stack}: deletes {names['function']}, log group {names['logGroup']} "
            f"(its logs), {queues}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if any(names["queues"] for names in destroyed.values()):
        console.print(
            "  before that, empty those queues: `dmd dlq redrive` (or replay) what they still hold.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _files(plan: Plan) -> list[dict[str, str]]:
    changed = [{"action": change.action, "path": change.path} for change in plan.changes]
    return changed + [{"action": "delete", "path": path} for path in plan.removed_artifacts]


def _update_snapshots(root: Path) -> None:
    with progress("regenerating the stacks' snapshots (dmd synth --update-snapshots)", None):
        result = update_snapshots(root)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        fail(f"the snapshots could not be regenerated: {detail[-1] if detail else result.returncode}")


def _create_warnings(request: WorkerRequest) -> list[str]:
    if not request.shared_with:
        return []
    consumers = ", ".join(request.shared_with)
    return [
        f"the {request.source} queue is consumed by {consumers}: SQS gives each message to one consumer, so "
        f"{request.name}'s mapping is created disabled (trigger.enabled: false in every stack file). "
        "Enable it only when it replaces that worker, or give it a queue of its own (infra/platform.py)."
    ]


def _next_steps(request: WorkerRequest, *, snapshots: bool) -> list[str]:
    steps = [
        "next:",
        f"  1. write its real job in workers/{request.name}/logic.py and tests/workers/{request.name}/",
        f"  2. .venv/bin/pytest tests/workers/{request.name}, then make test",
        "  3. review the diff (the snapshots gain the worker's resources) and commit",
        "  4. CI's pulumi up deploys it to qa1; prod1 after the manual gate",
    ]
    if not snapshots:
        steps.insert(2, "     (make snapshots first: --no-snapshots skipped them)")
    return steps


class Destroyed(TypedDict):
    """What a stack's `pulumi up` deletes once the worker is gone from the program."""

    function: str
    logGroup: str  # a JSON key
    queues: list[str]


def _destroyed(root: Path, code: str, source: str) -> dict[str, Destroyed]:
    destroyed: dict[str, Destroyed] = {}
    for stack in committed_stacks(root):
        values = stack_file_values(stack, root)
        naming = Naming(
            environment=str(values.get("environment", stack)), region=str(values.get("region", ""))
        )
        function = naming.function_name(code)
        queues = []
        if re.match(r"StreamSource\(", source):
            queues.append(on_failure_queue_name(function))
        if re.match(r"ScheduleSource\(", source):
            queues.append(schedule_dlq_name(function))
        destroyed[stack] = Destroyed(function=function, logGroup=log_group_name(function), queues=queues)
    return destroyed
