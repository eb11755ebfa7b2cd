"""The fault language (`--faults`) and a vendor's faults at run time: scripts, outages, seeded rates."""

from __future__ import annotations

import pytest

from sandbox.clock import SandboxClock
from sandbox.vendors import Effect, FaultSpecError, VendorFaults, Window, parse_faults

# --------------------------------------------------------------------------------------------------
# parse_faults
# --------------------------------------------------------------------------------------------------


def test_a_fault_spec_reads_rates_latency_and_outage_windows() -> None:
    plan = parse_faults("sms=0.3, bitly-429=0.2,sms-latency=0.05,sms-outage=10-70s")
    assert plan.rates == {"sms": 0.3, "bitly-429": 0.2}
    assert plan.latency == {"sms": 0.05}
    assert plan.outages == {"sms": (Window(10, 70),)}
    assert str(plan) == "sms=0.3,bitly-429=0.2,sms-latency=0.05,sms-outage=10-70"
    assert parse_faults("").empty and parse_faults("none").empty


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("sms-500=0.1", "unknown fault 'sms-500'; known kinds: sms, sms-429"),
        ("sms=1.5", "fault rate of 'sms' must be a number from 0 to 1, got '1.5'"),
        ("sms=lots", "fault rate of 'sms' must be a number from 0 to 1, got 'lots'"),
        ("sms", "fault 'sms' needs a value"),
        ("sms=0.1,sms-5xx=0.2", "fault 'sms' is given twice"),
        ("sms=0.6,sms-429=0.5", "the sms fault rates add up to 1.1 (> 1): sms=0.6, sms-429=0.5"),
        ("bitly-outage=90-10", "bitly-outage must be START-END in seconds with START < END"),
        ("discovery-latency=-1", "discovery-latency must be a number of seconds from 0 to 60"),
    ],
)
def test_a_bad_fault_spec_is_refused_with_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError) as refused:
        parse_faults(spec)
    assert message in str(refused.value)


# --------------------------------------------------------------------------------------------------
# VendorFaults
# --------------------------------------------------------------------------------------------------


def test_scripted_effects_come_first_then_outages_then_the_seeded_rates() -> None:
    # Given an SMS vendor with every request failing by rate, an outage now and a script for one key
    clock = SandboxClock()
    faults = VendorFaults("sms", clock=clock, seed=1)
    faults.configure(parse_faults("sms-429=1"))
    faults.outage(clock.now() - 1, clock.now() + 60)
    faults.script("ref-1", Effect.BLOCKED, None)

    # When requests of that key and of another are decided
    decided = [faults.decide("ref-1") for _ in range(3)] + [faults.decide("ref-2")]

    # Then the script answers first (None: normally), then the outage; rates only after clearing it
    assert decided == [Effect.BLOCKED, None, Effect.SERVER_ERROR, Effect.SERVER_ERROR]
    faults.clear()
    faults.configure(parse_faults("sms-429=1"))
    assert faults.decide("ref-2") is Effect.THROTTLED


def test_a_planned_outage_window_counts_from_its_anchor() -> None:
    # Given an outage 10 to 20 sandbox seconds after an anchor 100 s ago
    clock = SandboxClock()
    faults = VendorFaults("bitly", clock=clock)
    faults.configure(parse_faults("bitly-outage=10-20"), anchor=clock.now() - 100)

    # Then it is over; the same window anchored now starts in ten seconds
    assert faults.decide("E1") is None
    faults.configure(parse_faults("bitly-outage=10-20"))
    clock.advance(15)
    assert faults.decide("E1") is Effect.SERVER_ERROR


def test_latency_is_the_vendors_own() -> None:
    faults = VendorFaults("discovery", clock=SandboxClock())
    faults.configure(parse_faults("discovery-latency=0.5s,sms-latency=2"))
    assert faults.latency == 0.5
