"""Rules that tie a worker's settings to the resource it consumes or the platform it logs to."""

from __future__ import annotations

from collections.abc import Mapping

from infra.config.base import PROJECT
from infra.config.resolved_triggers import QueueTrigger, StreamTrigger
from infra.config.stack import RawStackConfig
from infra.config.workers import WorkerConfig

VISIBILITY_TIMEOUT_FACTOR = 6
LATE_GRACE_VARIABLE = "LATE_GRACE_MINUTES"  # the lateGraceMinutes tunable as rendered
RELEASE_AFTER_VARIABLE = "RELEASE_AFTER_MINUTES"  # the releaseAfterMinutes tunable as rendered
QUEUE_SETTING_KEYS = {"short_url": "shortUrlQueue", "generation": "generationQueue"}  # YAML keys
STREAM_SETTING_KEYS = {"table": "tableStream", "sms_status": "smsStatusStream"}
# Lambda refuses a reservation that would leave fewer than this for the account's unreserved functions.
UNRESERVED_CONCURRENCY_MINIMUM = 100


def cross_resource_rules(
    stack_file: str, raw: RawStackConfig, workers: Mapping[str, WorkerConfig]
) -> list[str]:
    """One line per broken rule, worker by worker, naming file, key, rule and value."""
    problems: list[str] = []
    for name, worker in workers.items():
        trigger = worker.resolved_trigger
        if isinstance(trigger, QueueTrigger):
            problems += _visibility_covers_consumer(stack_file, raw, name, worker, trigger)
        if isinstance(trigger, StreamTrigger):
            problems += _record_age_within_retention(stack_file, raw, name, trigger)
        # Reported once: every worker that streams logs breaks it the same way.
        problems += [line for line in _log_destination(stack_file, raw, name, worker) if line not in problems]
        if isinstance(trigger, QueueTrigger):
            problems += _concurrency_within_reservation(stack_file, name, worker, trigger)
    # The generator creating reminders the sender then expires (or the reverse) would only hide
    # which grace applies: every worker with a lateGraceMinutes setting uses the same one.
    problems += _one_value(stack_file, workers, LATE_GRACE_VARIABLE, "lateGraceMinutes")
    # The generator and the sender write the release bound into notifications, the sweeper into
    # those it releases: one bound, or "how long until the sweeper acts" depends on who wrote last.
    problems += _one_value(stack_file, workers, RELEASE_AFTER_VARIABLE, "releaseAfterMinutes")
    problems += _reservations_leave_unreserved_minimum(stack_file, raw, workers)
    problems += _production_has_customer_key(stack_file, raw)
    return problems


def _production_has_customer_key(stack_file: str, raw: RawStackConfig) -> list[str]:
    """Production data (fans' phone numbers and e-mails) is encrypted under a key the team controls."""
    if not raw.production or raw.platform.kms is not None:
        return []
    return [
        f"{stack_file}: {PROJECT}:platform.kms: a production stack needs a customer-managed KMS key "
        "(kms: {create: true}, or kms: {keyArn: arn:aws:kms:REGION:ACCOUNT:key/KEY-ID}) (got None)"
    ]


def _visibility_covers_consumer(
    stack_file: str, raw: RawStackConfig, name: str, worker: WorkerConfig, trigger: QueueTrigger
) -> list[str]:
    queue = raw.platform.queue(trigger.queue)
    needed = (
        VISIBILITY_TIMEOUT_FACTOR * worker.timeout_seconds + trigger.settings.maximum_batching_window_seconds
    )
    if queue.visibility_timeout_seconds >= needed:
        return []
    return [
        f"{stack_file}: {PROJECT}:platform.{QUEUE_SETTING_KEYS[trigger.queue]}.visibilityTimeoutSeconds: "
        f"must be >= {VISIBILITY_TIMEOUT_FACTOR} x timeout of {name} ({worker.timeout_seconds} s) "
        f"+ its batching window = {needed} s (got {queue.visibility_timeout_seconds})"
    ]


def _record_age_within_retention(
    stack_file: str, raw: RawStackConfig, name: str, trigger: StreamTrigger
) -> list[str]:
    retention = raw.platform.stream(trigger.stream).retention_hours * 3600
    record_age = trigger.settings.maximum_record_age_seconds
    if record_age <= retention:
        return []
    return [
        f"{stack_file}: {PROJECT}:workers.{name}.trigger.maximumRecordAgeSeconds: must not exceed the "
        f"retention of platform.{STREAM_SETTING_KEYS[trigger.stream]} ({retention} s) (got {record_age})"
    ]


def _log_destination(stack_file: str, raw: RawStackConfig, name: str, worker: WorkerConfig) -> list[str]:
    if not worker.log_streaming or raw.platform.central_log_stream_arn is not None:
        return []
    # Name the key the file set: the worker's override, else defaults.
    overridden = name in raw.workers and "log_streaming" in raw.workers[name].function_settings()
    key = f"workers.{name}.logStreaming" if overridden else "defaults.logStreaming"
    return [
        f"{stack_file}: {PROJECT}:{key}: needs platform.centralLogStreamArn "
        "(or set logStreaming: false) (got True)"
    ]


def _one_value(
    stack_file: str, workers: Mapping[str, WorkerConfig], variable: str, setting: str
) -> list[str]:
    """Every worker with the tunable `setting` (rendered as `variable`) must set the same value."""
    values = {
        name: worker.tunables[variable] for name, worker in workers.items() if variable in worker.tunables
    }
    if len(set(values.values())) <= 1:
        return []
    first, *others = sorted(values)
    return [
        f"{stack_file}: {PROJECT}:workers.{name}.settings.{setting}: must equal "
        f"workers.{first}.settings.{setting} ({values[first]}) (got {values[name]})"
        for name in others
        if values[name] != values[first]
    ]


def _concurrency_within_reservation(
    stack_file: str, name: str, worker: WorkerConfig, trigger: QueueTrigger
) -> list[str]:
    maximum = trigger.settings.maximum_concurrency
    if maximum is None or worker.reserved_concurrency <= 0 or maximum <= worker.reserved_concurrency:
        return []
    return [
        f"{stack_file}: {PROJECT}:workers.{name}.trigger.maximumConcurrency: {maximum} exceeds the "
        f"worker's reservedConcurrency {worker.reserved_concurrency}; the surplus pollers would only be "
        "throttled"
    ]


def _reservations_leave_unreserved_minimum(
    stack_file: str, raw: RawStackConfig, workers: Mapping[str, WorkerConfig]
) -> list[str]:
    """The stack's reservations must leave the account's unreserved minimum within its quota."""
    # PutFunctionConcurrency fails on the reservation that would cross it, halfway through an update.
    reserved = {name: worker.reserved_concurrency for name, worker in workers.items()}
    total = sum(value for value in reserved.values() if value > 0)
    quota = raw.platform.alarm_topic.account_concurrency_limit
    if quota - total >= UNRESERVED_CONCURRENCY_MINIMUM:
        return []
    shares = ", ".join(f"{name} {value}" for name, value in sorted(reserved.items()) if value > 0)
    return [
        f"{stack_file}: {PROJECT}:platform.alarmTopic.accountConcurrencyLimit: the workers' "
        f"reservedConcurrency ({shares}) sums to {total}, leaving {quota - total} of the account quota "
        f"unreserved; Lambda keeps at least {UNRESERVED_CONCURRENCY_MINIMUM} unreserved, so the quota "
        f"must be >= {total + UNRESERVED_CONCURRENCY_MINIMUM} or the reservations smaller (got {quota})"
    ]
