"""The triggers a maintenance window pauses: which workers, their mappings and rules, and their live state.

A pausable worker has an event-source mapping (stream and queue workers) or a schedule rule;
resolvers have neither. Mappings are found by the `live` alias the program maps (AWS matches any
form of the function name, moto only the exact string a mapping was created with), else by the
event source and the function's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal

from pydantic import computed_field

from ops.operator_io import JsonModel
from ops.target import Fleet, FleetWorker, Target, TargetError

MAPPING: Final = "event-source-mapping"
RULE: Final = "schedule-rule"
NOT_FOUND: Final = "NotFound"
# Lambda's mapping states that read nothing; EventBridge's rule states that fire.
_MAPPING_PAUSED: Final = frozenset({"Disabling", "Disabled"})
_RULE_ENABLED: Final = frozenset({"ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"})

TriggerKind = Literal["event-source-mapping", "schedule-rule"]


class WorkerSelectionError(Exception):
    """`--workers` names a worker that does not exist or cannot be paused (bad input)."""


class MissingTriggerError(Exception):
    """A worker's mapping or rule is not deployed; the message names it."""


class Trigger(JsonModel):
    """A mapping or rule of a worker as it is now: its id (mapping UUID, rule name) and live state."""

    worker: str
    kind: TriggerKind
    id: str
    state: str  # a mapping's State (Enabled, Disabling, Disabled, …), a rule's (ENABLED, DISABLED); NotFound

    @computed_field  # type: ignore[prop-decorator]
    @property
    def enabled(self) -> bool:
        """Whether it reads (mapping) or fires (rule) now, or will once it settles."""
        if self.state == NOT_FOUND:
            return False
        if self.kind == MAPPING:
            return self.state not in _MAPPING_PAUSED
        return self.state in _RULE_ENABLED


def pausable_workers(fleet: Fleet) -> tuple[FleetWorker, ...]:
    """The workers with an event-source mapping or a schedule rule, in catalog order."""
    return tuple(
        worker for worker in fleet.workers.values() if worker.mapping_name is not None or worker.schedule_rule
    )


def choose_workers(fleet: Fleet, names: Sequence[str]) -> tuple[FleetWorker, ...]:
    """The workers `--workers` names (all pausable ones when empty); WorkerSelectionError says why not."""
    if not names:
        return pausable_workers(fleet)
    chosen: set[str] = set()
    for name in names:
        try:
            worker = fleet.worker(name)
        except TargetError as error:
            raise WorkerSelectionError(str(error)) from None
        if worker.mapping_name is None and not worker.schedule_rule:
            raise WorkerSelectionError(
                f"{name} is an AppSync resolver: maintenance never pauses resolvers (the fan app's "
                "queries reach them directly; nothing waits behind them)"
            )
        chosen.add(name)
    return tuple(worker for worker in fleet.workers.values() if worker.name in chosen)


def parse_worker_names(text: str | None) -> list[str]:
    """`a,b , c` → [a, b, c] (empty: every pausable worker)."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def alias_arn(target: Target, worker: FleetWorker) -> str:
    """The ARN of the worker's `live` alias, which its mapping invokes."""
    return f"arn:aws:lambda:{target.config.region}:{target.config.account_id}:function:{worker.alias}"


def live_triggers(
    target: Target, workers: Iterable[FleetWorker], *, missing_ok: bool = False
) -> list[Trigger]:
    """The workers' mappings and rules with their live state.

    A mapping or rule that is not there raises MissingTriggerError, or with `missing_ok` is listed
    as NotFound (what `status` shows).
    """
    triggers: list[Trigger] = []
    for worker in workers:
        if worker.mapping_name is not None:
            mappings = _mappings_of(target, worker)
            if not mappings:
                if not missing_ok:
                    raise MissingTriggerError(
                        f"{worker.name}: no event-source mapping invokes {alias_arn(target, worker)} "
                        "(not deployed, or credentials for another account?)"
                    )
                triggers.append(Trigger(worker=worker.name, kind=MAPPING, id="-", state=NOT_FOUND))
            triggers.extend(
                Trigger(
                    worker=worker.name, kind=MAPPING, id=str(mapping["UUID"]), state=str(mapping["State"])
                )
                for mapping in mappings
            )
        if worker.schedule_rule:
            state = rule_state(target, worker.schedule_rule)
            if state == NOT_FOUND and not missing_ok:
                raise MissingTriggerError(
                    f"{worker.name}: no schedule rule {worker.schedule_rule} (not deployed?)"
                )
            triggers.append(Trigger(worker=worker.name, kind=RULE, id=worker.schedule_rule, state=state))
    return triggers


def _mappings_of(target: Target, worker: FleetWorker) -> list[dict[str, Any]]:
    # By the alias the program maps (AWS matches any form of the function; moto only the exact
    # string a mapping was created with), then by the event source, matching the function's name.
    lambda_ = target.clients.client("lambda")
    found = _list_mappings(lambda_, FunctionName=alias_arn(target, worker))
    if not found and worker.event_source_arn:
        found = [
            mapping
            for mapping in _list_mappings(lambda_, EventSourceArn=worker.event_source_arn)
            if str(mapping.get("FunctionArn", "")).split(":")[6:7] == [worker.function_name]
        ]
    return found


def _list_mappings(lambda_: Any, **criteria: str) -> list[dict[str, Any]]:
    mappings: list[dict[str, Any]] = []
    for page in lambda_.get_paginator("list_event_source_mappings").paginate(**criteria):
        mappings.extend(page.get("EventSourceMappings", []))
    return mappings


def rule_state(target: Target, name: str) -> str:
    """A rule's State (ENABLED, DISABLED), or NotFound."""
    events = target.clients.client("events")
    try:
        return str(events.describe_rule(Name=name)["State"])
    except events.exceptions.ResourceNotFoundException:
        return NOT_FOUND


def mapping_state(target: Target, uuid: str) -> str:
    """A mapping's State (Enabled, Disabling, Disabled, …), or NotFound."""
    lambda_ = target.clients.client("lambda")
    try:
        return str(lambda_.get_event_source_mapping(UUID=uuid)["State"])
    except lambda_.exceptions.ResourceNotFoundException:
        return NOT_FOUND


def set_enabled(target: Target, kind: TriggerKind, identifier: str, *, enabled: bool) -> None:
    """Enable or disable one mapping (by UUID) or rule (by name)."""
    if kind == MAPPING:
        target.clients.client("lambda").update_event_source_mapping(UUID=identifier, Enabled=enabled)
    elif enabled:
        target.clients.client("events").enable_rule(Name=identifier)
    else:
        target.clients.client("events").disable_rule(Name=identifier)


def caller_identity(target: Target) -> str:
    """Who is operating: the caller's STS ARN."""
    return str(target.clients.client("sts").get_caller_identity()["Arn"])
