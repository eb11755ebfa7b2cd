"""One sweep on the moto table: what it releases, what it leaves alone, its bounds and its report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sweeper_builders import BOUND, NOW, PHONE, sms_notification, stored, triggers_sender

from workers.notification_sweeper.logic import shard_order, sweep
from workers.notification_sweeper.models import SAMPLE_SIZE, SweepSummary
from workers.shared.keys import SWEEP_SHARDS, Key, notification_reference
from workers.shared.models import NotificationRecord
from workers.shared.repository import DemandRepository
from workers.shared.statuses import NotificationStatus

S = NotificationStatus
Blobs = Callable[[], list[dict[str, Any]]]
Lines = Callable[[], list[dict[str, Any]]]
LONG_AGO = NOW - timedelta(minutes=30)


def run(
    repository: DemandRepository,
    *,
    now: datetime = NOW,
    max_releases: int = 1000,
    out_of_time: Callable[[], bool] = lambda: False,
) -> SweepSummary:
    return sweep(repository, now=now, release_after=BOUND, max_releases=max_releases, out_of_time=out_of_time)


def created(repository: DemandRepository, fan_id: str, *, at: datetime = LONG_AGO) -> NotificationRecord:
    record = sms_notification(fan_id, created=at)
    assert repository.create_notification(record)
    return record


def claimed(repository: DemandRepository, record: NotificationRecord, *, lease: datetime) -> None:
    assert repository.claim(
        record.key,
        f"claim-{record.fan_id}",
        from_statuses={S.CREATED, S.RETRY},
        at=LONG_AGO,
        lease_expires_at=lease,
    )


def metrics(blobs: list[dict[str, Any]]) -> dict[str, float]:
    """Metric name → summed value from EMF documents."""
    found: dict[str, float] = {}
    for blob in blobs:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                values = blob[metric["Name"]]
                for value in values if isinstance(values, list) else [values]:
                    found[metric["Name"]] = found.get(metric["Name"], 0) + float(value)
    return found


def test_a_sweep_releases_lost_triggers_and_dead_claims_and_leaves_the_rest(
    repository: DemandRepository, demand_table: str
) -> None:
    # Given, 30 minutes after their creation:
    lost = created(repository, "lost")  # CREATED, its stream record never handled
    dead = created(repository, "dead")  # claimed by an invocation whose lease ended a minute ago
    claimed(repository, dead, lease=NOW - timedelta(minutes=1))
    live = created(repository, "live")  # claimed by an invocation still running
    claimed(repository, live, lease=NOW + timedelta(seconds=40))
    backoff = created(repository, "backoff")  # RETRY due in a minute (listed until due + bound)
    next_attempt = NOW + timedelta(minutes=1)
    assert repository.transition(
        backoff.key,
        {S.CREATED},
        S.RETRY,
        at=LONG_AGO,
        increment_attempts=True,
        extra_updates={"nextAttemptAt": next_attempt, "sweepAt": next_attempt + BOUND},
    )
    fresh = created(repository, "fresh", at=NOW - timedelta(minutes=1))  # created a minute ago
    sent = created(repository, "sent")  # sent long ago: off the index
    assert repository.transition(sent.key, {S.CREATED}, S.TRIGGERED, at=LONG_AGO)

    # When the sweeper runs
    summary = run(repository)

    # Then exactly the lost one and the dead claim are released (each found once, in a full run)
    assert (summary.found, summary.released, summary.skipped, summary.complete) == (2, 2, 0, True)
    assert summary.shards_swept == SWEEP_SHARDS
    assert sorted(summary.released_sample) == sorted(notification_reference(r.key) for r in (lost, dead))
    # And each is RETRY without a claim, which is a change the send trigger lets through
    for record in (lost, dead):
        item = stored(demand_table, record.key)
        assert (item["status"]["id"], "claimId" in item) == ("RETRY", False)
        assert triggers_sender(item)
    # And the others are as they were
    assert stored(demand_table, live.key)["claimId"] == "claim-live"
    assert stored(demand_table, backoff.key)["sendAttempts"] == 1
    assert stored(demand_table, fresh.key)["status"]["id"] == "CREATED"
    assert stored(demand_table, sent.key)["status"]["id"] == "TRIGGERED"


def test_a_released_notification_keeps_its_attempts_and_errors(
    repository: DemandRepository, demand_table: str
) -> None:
    # Given a notification that failed twice, then was claimed by an invocation that died
    record = created(repository, "twice")
    for _ in range(2):
        assert repository.transition(
            record.key, {S.CREATED, S.RETRY}, S.RETRY, at=LONG_AGO, increment_attempts=True
        )
    claimed(repository, record, lease=NOW - timedelta(seconds=1))

    # When the sweeper releases it
    assert run(repository).released == 1

    # Then its attempt count (the sender's limit reads it) is unchanged
    assert stored(demand_table, record.key)["sendAttempts"] == 2


def test_a_notification_claimed_between_the_index_read_and_the_release_is_skipped(
    demand_table: str,
) -> None:
    # Given a lost notification that a sender claims just after the sweeper read the index
    class RacingRepository(DemandRepository):
        def release_notification(self, key: Key, *, at: datetime, sweep_at: datetime) -> bool:
            self.claim(
                key, "racer", from_statuses={S.CREATED}, at=at, lease_expires_at=at + timedelta(minutes=1)
            )
            return super().release_notification(key, at=at, sweep_at=sweep_at)

    repository = RacingRepository(demand_table, sales_index="sales", demand_index="demand-by-sale")
    record = created(repository, "raced")

    # When the sweeper tries to release it
    summary = run(repository)

    # Then the release is refused and counted as skipped: the racer keeps its claim
    assert (summary.found, summary.released, summary.skipped) == (1, 0, 1)
    assert stored(demand_table, record.key)["claimId"] == "racer"


def test_a_release_is_listed_again_so_a_lost_retry_record_is_released_once_more(
    repository: DemandRepository, demand_table: str
) -> None:
    # Given a lost notification the sweeper released
    record = created(repository, "again")
    assert run(repository).released == 1

    # When the sweeper runs again a minute later, then once the bound has passed without a send
    soon = run(repository, now=NOW + timedelta(minutes=1))
    later = run(repository, now=NOW + BOUND + timedelta(seconds=1))

    # Then it is left to its new record for a bound, then released again (still RETRY, unclaimed)
    assert (soon.found, later.released) == (0, 1)
    assert stored(demand_table, record.key)["status"]["id"] == "RETRY"


def test_a_run_releases_at_most_its_cap_and_the_next_run_the_rest(repository: DemandRepository) -> None:
    # Given five lost notifications and a cap of two releases per run
    for number in range(5):
        created(repository, f"capped-{number}")

    # When the sweeper runs three times
    runs = [run(repository, max_releases=2) for _ in range(3)]

    # Then each run stops at the cap and says so, and together they release all five
    assert [(summary.released, summary.complete) for summary in runs] == [(2, False), (2, False), (1, True)]


def test_a_run_stops_when_its_time_is_out_and_leaves_the_rest_to_the_next(
    repository: DemandRepository,
) -> None:
    # Given three lost notifications and an invocation whose time runs out after one release
    for number in range(3):
        created(repository, f"late-{number}")
    checks = iter([False, True])

    # When the sweeper runs
    summary = run(repository, out_of_time=lambda: next(checks, True))

    # Then it released one and stopped, incomplete; the next run releases the other two
    assert (summary.released, summary.complete) == (1, False)
    assert run(repository).released == 2


def test_each_run_visits_every_shard_once_starting_a_shard_later_each_minute() -> None:
    # Given two runs a minute apart
    first = list(shard_order(NOW))
    second = list(shard_order(NOW + timedelta(minutes=1)))

    # Then each visits all sixteen shards once, and the second starts where the first's second did
    assert sorted(first, key=int) == sorted(second, key=int) == [str(shard) for shard in range(SWEEP_SHARDS)]
    assert second[0] == first[1]


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_a_sweep_reports_its_counts_and_a_sample_of_keys_without_addresses(
    repository: DemandRepository, emf_blobs: Blobs, log_lines: Lines
) -> None:
    # Given more lost notifications than the logged sample holds
    for number in range(SAMPLE_SIZE + 2):
        created(repository, f"sampled-{number:02d}")

    # When the sweeper runs and its metrics are flushed
    from workers.shared.observability import METRICS

    summary = run(repository)
    METRICS.flush_metrics()

    # Then found, released and skipped are metrics, and one warning names the first keys only
    assert metrics(emf_blobs()) == {
        "NotificationsOverdue": SAMPLE_SIZE + 2,
        "NotificationsReleased": SAMPLE_SIZE + 2,
        "ReleasesSkipped": 0,
    }
    (warning,) = [line for line in log_lines() if line["level"] == "WARNING"]
    assert warning["message"].startswith("Waiting notifications released")
    assert (warning["released"], len(warning["releasedSample"])) == (SAMPLE_SIZE + 2, SAMPLE_SIZE)
    assert warning["releasedSample"] == summary.released_sample
    assert all(reference.startswith("fan:sampled-") for reference in warning["releasedSample"])
    assert PHONE not in str(log_lines())


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_a_sweep_that_finds_nothing_logs_at_info_and_releases_nothing(
    repository: DemandRepository, log_lines: Lines
) -> None:
    # Given only a notification created a minute ago (its trigger still has time)
    created(repository, "recent", at=NOW - timedelta(minutes=1))

    # When the sweeper runs / Then it finds nothing, and says so quietly
    assert run(repository).as_dict() == {
        "found": 0,
        "released": 0,
        "skipped": 0,
        "shardsSwept": SWEEP_SHARDS,
        "complete": True,
        "releasedSample": [],
    }
    assert [line["level"] for line in log_lines()] == ["INFO"]
