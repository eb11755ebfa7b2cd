"""Operator records of a stack (maintenance windows, releases), kept in SSM Parameter Store as JSON.

One parameter per record, `/prd3292/{env}/{region}/operations/{name}`: readable by anyone who can
operate the stack, written only by `dmd`, and outside the program (a `pulumi up` never touches it,
so a deploy cannot erase who paused what). Creation is conditional (`Overwrite=False`), so two
operators starting the same operation at once cannot both succeed.

Releases: `operations/release` while one runs (the lock), and one parameter per finished release
under `operations/releases/` (the history; a standard parameter holds 4 KB, one release fits, a
list of them would not), named by when it started so names sort by time; the oldest beyond
`RELEASE_HISTORY_KEPT` are deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from infra.naming import PRODUCT_CODE
from ops.target import Target

MAINTENANCE: Final = "maintenance"
RELEASE: Final = "release"
RELEASE_HISTORY: Final = "releases"
RELEASE_HISTORY_KEPT: Final = 30
# A standard SSM parameter holds 4,096 characters; reasons are cut to keep a release inside it.
PARAMETER_LIMIT: Final = 4096
REASON_LIMIT: Final = 160

Record = TypeVar("Record", bound=BaseModel)


class RecordExistsError(Exception):
    """A record of that name is already there (someone else started the operation)."""


class MappingState(BaseModel):
    """An event-source mapping as it was before maintenance paused it."""

    model_config = ConfigDict(frozen=True)

    worker: str
    uuid: str
    enabled: bool


class RuleState(BaseModel):
    """A schedule rule as it was before maintenance paused it."""

    model_config = ConfigDict(frozen=True)

    worker: str
    name: str
    enabled: bool


class MaintenanceRecord(BaseModel):
    """Who paused which workers, why, when, and the exact state to restore at the end."""

    model_config = ConfigDict(frozen=True)

    stack: str
    reason: str
    started_by: str  # the caller's identity (STS ARN), or the emulator's
    started_at: datetime
    workers: tuple[str, ...]
    mappings: tuple[MappingState, ...] = Field(default=())
    rules: tuple[RuleState, ...] = Field(default=())


WorkerOutcome = Literal["pending", "completed", "rolled-back", "interrupted", "rollback-failed", "skipped"]
ReleaseOutcome = Literal["in-progress", "completed", "rolled-back", "interrupted"]
ReleaseKind = Literal["release", "rollback"]


class ReleasedWorker(BaseModel):
    """One worker of a release: from which version to which, how far it went and how it ended."""

    model_config = ConfigDict(frozen=True)

    worker: str
    function_name: str
    from_version: str
    to_version: str
    steps_done: int = 0
    steps_total: int
    weight_percent: int = 0  # the share of `live` the new version had last
    outcome: WorkerOutcome = "pending"
    reason: str | None = None  # why it was rolled back (or failed to)


class ReleaseRecord(BaseModel):
    """A release of a stack (or a `--rollback`): who, when, how, per worker, and its outcome."""

    model_config = ConfigDict(frozen=True)

    stack: str
    kind: ReleaseKind = "release"
    strategy: str  # canary10-5m | linear10-1m | all-at-once | rollback
    started_by: str  # the caller's identity (STS ARN), or the emulator's
    started_at: datetime
    finished_at: datetime | None = None
    outcome: ReleaseOutcome = "in-progress"
    workers: tuple[ReleasedWorker, ...] = ()


def parameter_name(target: Target, name: str) -> str:
    """`/prd3292/{env}/{region}/operations/{name}`."""
    return f"/{PRODUCT_CODE}/{target.config.environment}/{target.config.region}/operations/{name}"


def read_record(target: Target, name: str, model: type[Record]) -> Record | None:
    """The record, or None when there is none."""
    ssm = target.clients.client("ssm")
    try:
        value = ssm.get_parameter(Name=parameter_name(target, name))["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None
    return model.model_validate_json(value)


def create_record(target: Target, name: str, record: BaseModel) -> None:
    """Store a new record; RecordExistsError when one is already there (nothing changed)."""
    ssm = target.clients.client("ssm")
    try:
        ssm.put_parameter(
            Name=parameter_name(target, name),
            Value=record.model_dump_json(),
            Type="String",
            Overwrite=False,
            Description=f"dmd {name} record (written by the dmd CLI; do not edit by hand)",
        )
    except ssm.exceptions.ParameterAlreadyExists:
        raise RecordExistsError(name) from None


def delete_record(target: Target, name: str) -> bool:
    """Remove a record; False when there was none."""
    ssm = target.clients.client("ssm")
    try:
        ssm.delete_parameter(Name=parameter_name(target, name))
    except ssm.exceptions.ParameterNotFound:
        return False
    return True


def active_maintenance(target: Target) -> MaintenanceRecord | None:
    """The stack's maintenance window, when one is active."""
    return read_record(target, MAINTENANCE, MaintenanceRecord)


def active_release(target: Target) -> ReleaseRecord | None:
    """The release running on the stack (its lock record), when there is one."""
    return read_record(target, RELEASE, ReleaseRecord)


def history_name(record: ReleaseRecord) -> str:
    """`releases/<UTC start, to the microsecond>`: names sort as the releases started."""
    return f"{RELEASE_HISTORY}/{record.started_at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}"


def fitted(record: ReleaseRecord) -> ReleaseRecord:
    """The record with its reasons cut short enough for one standard parameter."""
    limit = REASON_LIMIT
    while True:
        shortened = record.model_copy(
            update={
                "workers": tuple(
                    worker.model_copy(update={"reason": _cut(worker.reason, limit)})
                    for worker in record.workers
                )
            }
        )
        if len(shortened.model_dump_json()) <= PARAMETER_LIMIT or limit <= 0:
            return shortened
        limit //= 2


def _cut(reason: str | None, limit: int) -> str | None:
    if reason is None or len(reason) <= limit:
        return reason
    return reason[: max(limit - 1, 0)] + "…"


def append_release(target: Target, record: ReleaseRecord) -> None:
    """Add a finished release to the history; the oldest beyond RELEASE_HISTORY_KEPT are deleted."""
    ssm = target.clients.client("ssm")
    ssm.put_parameter(
        Name=parameter_name(target, history_name(record)),
        Value=fitted(record).model_dump_json(),
        Type="String",
        Overwrite=True,
        Description="dmd release history (written by the dmd CLI; do not edit by hand)",
    )
    names = sorted(_history_parameters(target))
    for name in names[: max(len(names) - RELEASE_HISTORY_KEPT, 0)]:
        delete_record(target, name.removeprefix(parameter_name(target, "")))


def release_history(target: Target) -> list[ReleaseRecord]:
    """The stack's finished releases, oldest first."""
    parameters = _history_parameters(target)
    return [ReleaseRecord.model_validate_json(parameters[name]) for name in sorted(parameters)]


def _history_parameters(target: Target) -> dict[str, str]:
    paginator = target.clients.client("ssm").get_paginator("get_parameters_by_path")
    path = parameter_name(target, RELEASE_HISTORY)
    return {
        parameter["Name"]: parameter["Value"]
        for page in paginator.paginate(Path=path, Recursive=False)
        for parameter in page.get("Parameters", [])
    }
