"""One sweep: waiting notifications whose trigger is gone are handed back to the sender.

A notification waits to be sent in CREATED or RETRY, and only then carries `sweepShard`/`sweepAt`,
which list it in the sparse `pending-notifications` index (docs/notification-send.md, "Leases and
the sweeper"). `sweepAt` is when the sweeper may act: its due time (creation, or `nextAttemptAt` of
a RETRY) plus `releaseAfterMinutes`, or, while a send claim is held, the end of the claim's lease.
Past it, the stream record that should have sent it was lost (discarded after its retries, aged
out) or the invocation holding the claim died.

For each shard, oldest first: one conditional write per overdue key (`release_notification`) moves
it to RETRY without a claim — a MODIFY the send trigger's filter lets through — keeping its attempts.
A refused condition (a live claim, or sent since the index was read) is skipped. The run stops
before its deadline or after `max_releases` writes; what it did not reach is overdue next run too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from workers.notification_sweeper.models import SweepSummary
from workers.shared.keys import SWEEP_SHARDS, notification_reference
from workers.shared.observability import (
    LOGGER,
    NOTIFICATIONS_OVERDUE,
    NOTIFICATIONS_RELEASED,
    RELEASES_SKIPPED,
    count,
)
from workers.shared.repository import DemandRepository


def shard_order(now: datetime) -> Iterator[str]:
    """Every shard once, starting at one that moves each minute: a capped run does not starve the last."""
    first = int(now.timestamp() // 60) % SWEEP_SHARDS
    return (str((first + offset) % SWEEP_SHARDS) for offset in range(SWEEP_SHARDS))


def sweep(
    repository: DemandRepository,
    *,
    now: datetime,
    release_after: timedelta,
    max_releases: int,
    out_of_time: Callable[[], bool],
) -> SweepSummary:
    """Release every notification of the pending index overdue at `now`, within the run's bounds."""
    summary = SweepSummary()
    try:
        for shard in shard_order(now):
            finished = _sweep_shard(
                repository,
                shard,
                now=now,
                release_after=release_after,
                max_releases=max_releases,
                out_of_time=out_of_time,
                summary=summary,
            )
            if not finished:
                summary.complete = False
                break
            summary.shards_swept += 1
    finally:
        # Emitted even when a write fails mid-run: what was released is counted.
        _report(summary)
    return summary


def _sweep_shard(
    repository: DemandRepository,
    shard: str,
    *,
    now: datetime,
    release_after: timedelta,
    max_releases: int,
    out_of_time: Callable[[], bool],
    summary: SweepSummary,
) -> bool:
    """Release the shard's overdue notifications; False when the run must stop before the shard's end."""
    for key in repository.pending_notification_keys(shard, due_before=now):
        if summary.found >= max_releases or out_of_time():
            return False
        summary.found += 1
        # Released notifications get a new sweepAt: should this RETRY's record be lost too, the
        # notification is overdue again one bound later.
        if repository.release_notification(key, at=now, sweep_at=now + release_after):
            summary.note_released(notification_reference(key))
        else:
            summary.skipped += 1
    return True


def _report(summary: SweepSummary) -> None:
    count(NOTIFICATIONS_OVERDUE, summary.found)
    count(NOTIFICATIONS_RELEASED, summary.released)
    count(RELEASES_SKIPPED, summary.skipped)
    details = summary.as_dict()
    if summary.released:
        # Every release is a lost trigger or a dead invocation: worth a look (runbook
        # notifications-released), never a reason to page for one by itself.
        LOGGER.warning("Waiting notifications released to the sender: their trigger was lost", extra=details)
    else:
        LOGGER.info("Sweep finished", extra=details)
