"""The demo's drills without a sandbox: poison demand records, and reading back what the generator skipped."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sandbox.demo.display import drill_rows
from sandbox.demo.drills import skipped_demand
from sandbox.demo.options import DemoOptions
from sandbox.demo.plan import DemoPlan, demand_items, discovery_payloads, plan_demand, window_sales
from sandbox.demo.poison import POISON_SHAPES, malformed_item, poison_demand
from workers.shared.demand_reading import read_demand
from workers.shared.discovery.normalize import normalize_event
from workers.shared.discovery.rules import EventRules
from workers.shared.models import DemandRecord

TICK = datetime(2031, 3, 1, 9, 30, tzinfo=UTC)
START, END = TICK + timedelta(minutes=30), TICK + timedelta(minutes=60)


def _plan(fans: int = 400) -> DemoPlan:
    options = DemoOptions(fans=fans, sales=4, report_path=None)
    plan = DemoPlan(
        tick=TICK, window_start=START, window_end=END, window_sales=window_sales(options, START, END)
    )
    ids: dict[tuple[str, str | None], str] = {}
    for payload in discovery_payloads(plan.window_sales, week_later=START + timedelta(days=7)):
        _, sales = normalize_event(payload, market_id=None, rules=EventRules(), now=TICK)
        for sale in sales:
            ids[(payload["id"], None if sale.id == "public" else sale.name)] = sale.id
    plan_demand(plan, options, ids)
    return plan


DEMAND = DemandRecord(
    fan_id="fan-00012",
    event_id="G5vYZ9dmdChi",
    sale_id="verified-fan-presale",
    contact_method="sms,email",
    phone_number="+13125550123",
    email="ava.lee.00012@fans.example.com",
)


@pytest.mark.parametrize("shape", POISON_SHAPES)
def test_every_poison_shape_is_one_the_generators_reader_skips(shape: str) -> None:
    # Given a good demand record written malformed in this shape
    item = malformed_item(DEMAND, shape)
    # Then its key is the record's (the writer keys it right), and the generator's reader skips it
    assert (item["PK"], item["SK"]) == (DEMAND.key.pk, DEMAND.key.sk)
    reading = read_demand(item, event_id=DEMAND.event_id, sale_id=DEMAND.sale_id)
    assert reading.record is None
    assert [deviation.kind.skips_the_record for deviation in reading.deviations] == [True]
    # While the record as written right is kept
    assert read_demand(DEMAND.to_item(), event_id=DEMAND.event_id, sale_id=DEMAND.sale_id).record is not None


def test_poison_turns_a_seeded_share_of_notifiable_demand_into_malformed_items_expected_to_give_nothing() -> (
    None
):
    # Given a plan of 400 fans and the same plan poisoned at 10 %
    clean, poisoned = _plan(), _plan()
    records = poison_demand(poisoned, rate=0.1, seed=7)
    # Then about a tenth of the demand is poison, of every shape, and it is written with the rest
    assert 0.05 < len(records) / len(clean.demand) < 0.15
    assert set(Counter(record.shape for record in records)) == set(POISON_SHAPES)
    assert len(poisoned.demand) + len(records) == len(clean.demand)
    keys = {(item["PK"], item["SK"]) for item in demand_items(poisoned)}
    assert {(record.pk, record.sk) for record in records} <= keys
    # And the notifications they would have produced are no longer expected, the rest still are
    assert poisoned.expected < clean.expected
    assert (poisoned.expected_sms + poisoned.expected_email) == len(poisoned.expected)
    poisoned_fans_sales = {(record.pk, record.sk.removeprefix("demand#")) for record in records}
    for pk, sk in clean.expected - poisoned.expected:
        assert (pk, sk.removeprefix("notification#").rsplit("#", 1)[0]) in poisoned_fans_sales
    # And the same seed poisons the same records; no rate poisons nothing
    assert [record.sk for record in poison_demand(_plan(), rate=0.1, seed=7)] == [
        record.sk for record in records
    ]
    assert poison_demand(_plan(), rate=0.0, seed=7) == []


def test_the_records_the_generator_logged_as_skipped_are_read_back_from_the_workers_log(
    tmp_path: Path,
) -> None:
    # Given a workers' log with two skipped records (one logged twice, by a retried job), other lines
    log = tmp_path / "workers.log"
    skipped = {
        "level": "WARNING",
        "message": "Demand record skipped",
        "pk": "fan:fan-1",
        "sk": "demand#E-public",
    }
    lines = [
        json.dumps(skipped),
        "2031-03-01 09:30:00,000 INFO sandbox.pollers something else",
        json.dumps({**skipped, "pk": "fan:fan-2"}),
        json.dumps(skipped),
        json.dumps(
            {"message": "Demand record kept with a deviation", "pk": "fan:fan-3", "sk": "demand#E-public"}
        ),
        '{"message": "Demand record skipped", broken json',
    ]
    log.write_text("\n".join(lines) + "\n")
    # Then exactly the two skipped records are read back
    assert skipped_demand(log) == {("fan:fan-1", "demand#E-public"), ("fan:fan-2", "demand#E-public")}
    assert skipped_demand(tmp_path / "absent.log") == set()


def test_the_summary_shows_a_line_per_drill_that_ran_and_none_without_drills() -> None:
    # Given the drills section of a run with throttling and poison (no timeouts asked for)
    drills = {
        "ddbThrottle": {"rate": 0.1, "throttledWrites": 28},
        "timeouts": {"rate": 0.0, "injected": 0, "recordsInTimedOutBatches": 0},
        "poison": {"rate": 0.01, "injected": 3, "skippedByGenerator": 3, "parked": 0},
    }
    # Then the summary names what each one did
    assert drill_rows(drills) == [
        ("DynamoDB writes throttled (retried)", "28"),
        ("poison demand records: skipped by generator / parked", "3: 3 / 0"),
    ]
    assert drill_rows({}) == []
