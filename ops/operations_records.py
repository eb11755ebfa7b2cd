"""Operator records of a stack (maintenance windows, …), kept in SSM Parameter Store as JSON.

One parameter per record, `/prd3292/{env}/{region}/operations/{name}`: readable by anyone who can
operate the stack, written only by `dmd`, and outside the program (a `pulumi up` never touches it,
so a deploy cannot erase who paused what). Creation is conditional (`Overwrite=False`), so two
operators starting the same operation at once cannot both succeed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from infra.naming import PRODUCT_CODE
from ops.target import Target

MAINTENANCE: Final = "maintenance"

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
