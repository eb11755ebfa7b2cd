"""The demo's plan and report arithmetic, and reading the emulator's request recording (no sandbox)."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from sandbox.demo import (
    REGISTRATION_SALE,
    SUPPRESSED_EVENT,
    DemoOptions,
    DemoPlan,
    discovery_payloads,
    email_sends,
    failure_reason,
    is_terminal,
    next_tick,
    percentiles,
    plan_demand,
    window_sales,
)
from sandbox.emulator import CALLS_PATH
from sandbox.emulator_server import CallCounter
from workers.shared.discovery import EventRules, normalize_event

TICK = datetime(2031, 3, 1, 9, 30, tzinfo=UTC)
START, END = TICK + timedelta(minutes=30), TICK + timedelta(minutes=60)


def _plan(fans: int, sales: int = 4) -> DemoPlan:
    options = DemoOptions(fans=fans, sales=sales, report_path=None)
    plan = DemoPlan(
        tick=TICK, window_start=START, window_end=END, window_sales=window_sales(options, START, END)
    )
    ids: dict[tuple[str, str | None], str] = {}
    for payload in discovery_payloads(plan.window_sales, week_later=START + timedelta(days=7)):
        _, sale_records = normalize_event(payload, market_id=None, rules=EventRules(), now=TICK)
        for sale in sale_records:
            ids[(payload["id"], None if sale.id == "public" else sale.name)] = sale.id
    plan_demand(plan, options, ids)
    return plan


def test_the_next_tick_is_the_next_half_hour() -> None:
    assert next_tick(datetime(2031, 3, 1, 9, 12, tzinfo=UTC)) == datetime(2031, 3, 1, 9, 30, tzinfo=UTC)
    assert next_tick(datetime(2031, 3, 1, 9, 30, tzinfo=UTC)) == datetime(2031, 3, 1, 10, 0, tzinfo=UTC)


def test_the_window_holds_the_notifiable_sales_a_registration_and_a_suppressed_artist() -> None:
    sales = window_sales(DemoOptions(sales=5, report_path=None), START, END)
    assert sum(sale.notifiable for sale in sales) == 5
    assert all(START <= sale.starts < END for sale in sales)
    assert [sale.name for sale in sales if not sale.notifiable] == [REGISTRATION_SALE, None]
    assert sales[-1].event is SUPPRESSED_EVENT


def test_the_fans_mix_locales_markets_methods_and_bad_numbers_reproducibly() -> None:
    # Given two plans with the same seed
    plan, again = _plan(600), _plan(600)
    # Then they are the same, and realistic: every locale and market, every method, a few bad numbers
    assert [demand.to_item() for demand in plan.demand] == [demand.to_item() for demand in again.demand]
    assert {demand.locale for demand in plan.demand} == {"en-us", "en-ca", "fr-ca"}
    assert {demand.market_id for demand in plan.demand} == {"TM_US", "TM_CA", "LN_US"}
    assert set(Counter(demand.contact_method for demand in plan.demand)) == {"sms", "email", "sms,email"}
    assert plan.unassigned_numbers
    assert any(demand.phone_number and not demand.phone_number.startswith("+") for demand in plan.demand)
    assert plan.fans_by_kind["suppressed artist"] > 0 and plan.fans_by_kind["registration sale"] > 0
    # And the expected notifications are one per fan, notifiable sale and method with an address
    assert len(plan.expected) == plan.expected_sms + plan.expected_email
    assert not any(key[1].startswith(f"notification#{SUPPRESSED_EVENT.id}") for key in plan.expected)
    assert not any("registration" in key[1] for key in plan.expected)


@pytest.mark.parametrize(
    ("item", "terminal"),
    [
        ({"status": {"id": "DELIVERED"}, "contactMethod": "sms"}, True),
        ({"status": {"id": "FAILED"}, "contactMethod": "email"}, True),
        ({"status": {"id": "TRIGGERED"}, "contactMethod": "email"}, True),
        ({"status": {"id": "TRIGGERED"}, "contactMethod": "sms"}, False),
        ({"status": {"id": "RETRY"}, "contactMethod": "email"}, False),
    ],
)
def test_email_is_terminal_once_ses_accepted_it_and_sms_once_delivered_or_failed(
    item: dict[str, object], terminal: bool
) -> None:
    assert is_terminal(item) is terminal


def test_failure_reasons_name_the_vendor_code_or_exhausted_attempts() -> None:
    assert (
        failure_reason({"errors": [{"reason": "INVALID_NUMBER"}], "sendAttempts": 1}, 3) == "INVALID_NUMBER"
    )
    carrier = {"errors": [{"reason": "BLOCKED: the carrier blocked the message"}], "sendAttempts": 1}
    assert failure_reason(carrier, 3) == "BLOCKED"
    outage = {"errors": [{"reason": "SERVICE_UNAVAILABLE"}] * 3, "sendAttempts": 3}
    assert failure_reason(outage, 3) == "MAX_SEND_ATTEMPTS_EXCEEDED"


def test_percentiles_are_nearest_rank() -> None:
    assert percentiles([]) == {}
    assert percentiles([float(n) for n in range(1, 101)]) == {
        "count": 100,
        "p50": 50.0,
        "p90": 90.0,
        "p99": 99.0,
        "max": 100.0,
    }


def _scope(service: str) -> str:
    return f"AWS4-HMAC-SHA256 Credential=testing/20310301/us-east-1/{service}/aws4_request, SignedHeaders=x"


def _environ(headers: dict[str, str], body: str, *, form: bool = False, path: str = "/") -> dict[str, Any]:
    """A WSGI request as werkzeug hands it to moto's application."""
    raw = body.encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(raw)),
        "CONTENT_TYPE": "application/x-www-form-urlencoded" if form else "application/x-amz-json-1.0",
        "wsgi.input": io.BytesIO(raw),
    }
    environ.update({f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()})
    return environ


def test_the_emulator_counts_calls_by_service_operation_and_caller_and_keeps_email_sends() -> None:
    # Given moto's application behind the call counter, counting with SES sends kept
    seen: list[bytes] = []

    def moto(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return [b"{}"]

    counter = CallCounter(moto)
    control = _environ({}, json.dumps({"keep": ["SendTemplatedEmail"]}), path=CALLS_PATH)
    counter(control, lambda *_: None)
    # When a worker updates an item twice, sends a templated email, and the sandbox reads a stream
    worker = {"Authorization": _scope("dynamodb"), "X-Amz-Target": "DynamoDB_20120810.UpdateItem"}
    email = urlencode(
        {
            "Action": "SendTemplatedEmail",
            "Destination.ToAddresses.member.1": "ava@fans.example.com",
            "Template": "prd3292-local-us-east-1-sale-reminder-en-us",
            "TemplateData": '{"artistName":"Maren Holloway"}',
        }
    )
    sandbox = {
        "Authorization": _scope("kinesis"),
        "X-Amz-Target": "Kinesis_20131202.GetRecords",
        "User-Agent": "Boto3/1.40 md/Botocore#1.40 app/dmd-sandbox",
    }
    requests = [
        _environ(worker, "{}"),
        _environ(worker, "{}"),
        _environ({"Authorization": _scope("ses")}, email, form=True),
        _environ(sandbox, "{}"),
    ]
    for environ in requests:
        counter(environ, lambda *_: None)
    # Then moto still received every body whole
    assert seen == [b"{}", b"{}", email.encode(), b"{}"]
    # And the counts name service, operation and caller; the email's body was kept
    answer: list[bytes] = list(
        counter(_environ({}, "", path=CALLS_PATH) | {"REQUEST_METHOD": "GET"}, lambda *_: None)
    )
    document = json.loads(b"".join(answer))
    assert document["counts"] == [
        {"service": "dynamodb", "operation": "UpdateItem", "app": "", "count": 2},
        {"service": "kinesis", "operation": "GetRecords", "app": "dmd-sandbox", "count": 1},
        {"service": "ses", "operation": "SendTemplatedEmail", "app": "", "count": 1},
    ]
    # And the email sends are counted per recipient, template and data
    assert email_sends(kept["body"] for kept in document["kept"]) == Counter(
        {
            (
                "ava@fans.example.com",
                "prd3292-local-us-east-1-sale-reminder-en-us",
                '{"artistName":"Maren Holloway"}',
            ): 1
        }
    )
