"""End-to-end scenario helpers: seed what fans and Discovery would, run windows, read the outcome."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.naming import schedule_rule_name
from sandbox.demo.catalogue import CHICAGO
from sandbox.pipeline import Pipeline, PipelineMode
from sandbox.vendors import DiscoverySale, DiscoveryVenue, SmsStatusDelays, discovery_event
from workers.shared.keys import Key, notification_reference
from workers.shared.models import DemandRecord, NotificationRecord, notification_key

SUPPRESSED_ARTIST = "K8vZ917e2eSup"
E2E_OVERRIDES = {
    "RETRY_BACKOFF_SECONDS": "1",
    "BREAKER_COOLDOWN_SECONDS": "1",
    "SUPPRESSED_ARTIST_IDS": SUPPRESSED_ARTIST,
}
FAST_STATUSES = SmsStatusDelays(queued=1.0, sent=2.0, delivered=3.0)
TERMINAL = {"DELIVERED", "FAILED", "EXPIRED"}
_slots = itertools.count(1)


def e2e_marks(group: str) -> list[pytest.MarkDecorator]:
    """`pytestmark` of an end-to-end module: slow, and its tests on one xdist worker (one pipeline)."""
    return [
        pytest.mark.e2e,
        pytest.mark.slow,
        pytest.mark.xdist_group(group),
        # Powertools warns when a worker run emitted no metric (a scheduler run with nothing to do).
        pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
        # Every worker shares one Powertools Metrics object in the sandbox's process (one per Lambda).
        pytest.mark.filterwarnings("ignore:Dimension 'environment' has already been added"),
    ]


def e2e_pipeline(*, speed: float = 20.0) -> Pipeline:
    """A pipeline for a test module: free ports, the suite's environment untouched, fast retries."""
    return Pipeline(
        mode=PipelineMode.PRIVATE,
        speed=speed,
        environment_overrides=E2E_OVERRIDES,
        status_delays=FAST_STATUSES,
        seed=5,
    )


@dataclass(frozen=True)
class Fan:
    """A fan's opt-in for one sale."""

    fan_id: str
    event_id: str
    sale_id: str
    phone: str | None = None
    email: str | None = None
    locale: str = "en-us"
    market: str = "TM_US"

    def key(self, method: str) -> Key:
        """The key of this fan's notification by `method`."""
        return notification_key(self.fan_id, self.event_id, self.sale_id, method)

    def reference(self) -> str:
        """The SMS reference of this fan's SMS notification."""
        return notification_reference(self.key("sms"))

    def demand(self) -> DemandRecord:
        """The demand record of this opt-in."""
        methods = ",".join(
            method for method, address in (("sms", self.phone), ("email", self.email)) if address
        )
        return DemandRecord(
            fan_id=self.fan_id,
            event_id=self.event_id,
            sale_id=self.sale_id,
            phone_number=self.phone,
            email=self.email,
            contact_method=methods,
            market_id=self.market,
            locale=self.locale,
        )


def far_sale_time(pipeline: Pipeline) -> datetime:
    """A sale start no scheduled tick of the module will reach: days ahead, an hour per call apart."""
    base = pipeline.clock.now_datetime().replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    return base + timedelta(hours=next(_slots))


def seed_event(
    pipeline: Pipeline,
    event_id: str,
    *,
    sales: Sequence[tuple[str | None, datetime]],
    venue: DiscoveryVenue = CHICAGO,
    artist_id: str | None = None,
    artist: str = "Maren Holloway",
    locale: str = "en-us",
    market: str = "TM_US",
    wait_for_short_url: bool = True,
) -> dict[str | None, str]:
    """Serve the event at Discovery, look it up as the fan app does; sale name → sale id."""
    starts = max(moment for _, moment in sales) + timedelta(days=30)
    pipeline.vendors.discovery.add(
        discovery_event(
            event_id=event_id,
            name=f"{artist} Live",
            artist_id=artist_id or f"K8v{event_id}",
            artist=artist,
            venue=venue,
            starts=starts,
            sales=[DiscoverySale(name=name, starts=moment) for name, moment in sales],
            locale=locale,
        )
    )
    answer = pipeline.sandbox.query("eventDetails", {"eventId": event_id, "tmMarketId": market})
    details = answer["data"]["eventDetails"]
    if wait_for_short_url and not details["isSuppressed"]:
        assert pipeline.sandbox.run_until(lambda: bool(short_url(pipeline, event_id)), deadline=20)
    return {None if sale["id"] == "public" else sale["name"]: sale["id"] for sale in details["sales"]}


def short_url(pipeline: Pipeline, event_id: str) -> str | None:
    """The event's cached short URL."""
    return (pipeline.item(f"event:{event_id}", "event#details") or {}).get("shortUrl")


def opt_in(pipeline: Pipeline, fans: Iterable[Fan]) -> None:
    """Write the fans' demand records."""
    pipeline.put_items(fan.demand().to_item() for fan in fans)


def run_window(pipeline: Pipeline, around: datetime) -> dict[str, Any]:
    """An operator's manual scheduler run for a one-minute window around a sale start."""
    result: dict[str, Any] = pipeline.sandbox.invoke(
        "notification_scheduler",
        {
            "startDateTime": (around - timedelta(seconds=30)).isoformat(),
            "endDateTime": (around + timedelta(seconds=30)).isoformat(),
        },
    )
    return result


def notification(pipeline: Pipeline, key: Key) -> dict[str, Any] | None:
    """The notification item, if any."""
    return pipeline.item(key.pk, key.sk)


def is_done(item: dict[str, Any] | None) -> bool:
    """Terminal: DELIVERED, FAILED or EXPIRED, or an email SES accepted (TRIGGERED: no SES status stream)."""
    if item is None:
        return False
    status = item["status"]["id"]
    return status in TERMINAL or (item["contactMethod"] == "email" and status == "TRIGGERED")


def wait_done(pipeline: Pipeline, keys: Iterable[Key], deadline: float = 45.0) -> dict[Key, dict[str, Any]]:
    """Wait until every notification exists and is terminal; the items."""
    wanted = list(keys)
    found: dict[Key, dict[str, Any]] = {}

    def all_done() -> bool:
        for key in wanted:
            if key not in found or not is_done(found[key]):
                item = notification(pipeline, key)
                if item is None:
                    return False
                found[key] = item
                if not is_done(item):
                    return False
        return True

    assert pipeline.sandbox.run_until(all_done, deadline=deadline), {
        key.sk: (found.get(key) or {}).get("status") for key in wanted
    }
    return found


def now_utc() -> datetime:
    """The wall clock (what the workers stamp with)."""
    return datetime.now(UTC)


def waiting_sms(
    fan_id: str, phone: str, *, event_id: str, sale_name: str, created: datetime | None = None
) -> NotificationRecord:
    """An SMS reminder as the generator writes it (at `created`, default now), its sale days ahead."""
    slug = sale_name.split(maxsplit=1)[0].lower()
    return NotificationRecord.created(
        at=created or now_utc(),
        fan_id=fan_id,
        event_id=event_id,
        sale_id=f"{event_id}-presale",
        sale_name=sale_name,
        contact_method="sms",
        phone_number=phone,
        message_body=f"Reminder! Tickets for {sale_name} go on sale at 10:00 AM CST: https://bit.ly/e2e{slug}",
        sale_start_date_time=now_utc().replace(microsecond=0) + timedelta(days=3),
    )


SWEEPER_EVERY = timedelta(minutes=1)  # the local stack's rate(1 minute)


@contextmanager
def sweeper_paused(pipeline: Pipeline) -> Iterator[None]:
    """The sweeper's schedule stopped (as a disabled rule would be: nothing else brings a given-up
    notification back), then started again: the latest of its missed runs fires then.

    The others are passed over: each would sweep the same table, and replaying the hour a test's
    clock jumped (60 runs, one after the other) only kept the pipeline busy for half a minute.
    """
    rule = schedule_rule_name(pipeline.sandbox.function("notification_sweeper").settings.function_name)
    (schedule,) = [schedule for schedule in pipeline.sandbox.schedules if schedule.rule_name == rule]
    schedule.stop()
    try:
        yield
    finally:
        schedule.pass_over(pipeline.clock.now_datetime() - SWEEPER_EVERY)
        schedule.start()


FAILING_HANDLER = "tests.sandbox.handlers.always_raise"  # raises before any side effect


def publish_failing_version(pipeline: Pipeline, worker: str, *, handler: str = FAILING_HANDLER) -> str:
    """Publish a bad release of the worker: a version whose every invocation fails; its number.

    As a test builds one in Lambda: the function's handler changed, a version published, and the
    handler put back, so `$LATEST` (and any version published after) runs the program's again.
    The `live` alias is left where it is: route traffic to the version with `route_live`.
    """
    lambda_ = pipeline.clients.client("lambda")
    name = pipeline.sandbox.function(worker).settings.function_name
    program_handler = lambda_.get_function_configuration(FunctionName=name)["Handler"]
    lambda_.update_function_configuration(FunctionName=name, Handler=handler)
    version = str(lambda_.publish_version(FunctionName=name, Description="failing (test)")["Version"])
    lambda_.update_function_configuration(FunctionName=name, Handler=program_handler)
    return version


def route_live(pipeline: Pipeline, worker: str, weights: dict[str, float]) -> None:
    """Set the `live` alias's additional version weights (empty: routing cleared, as a rollback does)."""
    name = pipeline.sandbox.function(worker).settings.function_name
    pipeline.clients.client("lambda").update_alias(
        FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": weights}
    )


def lambda_metric_sum(pipeline: Pipeline, metric: str, dimensions: dict[str, str]) -> float:
    """An AWS/Lambda metric's sum over the last 15 minutes, under exactly these dimensions."""
    now = now_utc()
    answer = pipeline.clients.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": metric,
                        "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions.items()],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(minutes=15),
        EndTime=now + timedelta(minutes=1),
    )
    return float(sum(answer["MetricDataResults"][0]["Values"]))
