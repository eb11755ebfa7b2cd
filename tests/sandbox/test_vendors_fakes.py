"""All four vendor fakes together: the URLs and secrets the stack needs, ports, and clearing faults."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.clock import SandboxClock
from sandbox.vendors import SMS_API_KEY, Reply, VendorFakes, VendorPorts, parse_faults
from tests.sandbox.vendor_calls import call


@pytest.fixture
def fakes() -> Iterator[VendorFakes]:
    with VendorFakes(clock=SandboxClock()) as running:
        yield running


def test_the_fakes_point_the_functions_and_secrets_at_themselves(fakes: VendorFakes) -> None:
    overrides = fakes.environment_overrides()
    assert overrides["SMS_SERVICE_URL"] == fakes.sms.url
    assert overrides["BITLY_URL"].endswith("/v4") and overrides["DISCOVERY_URL"].endswith("/discovery/v2")
    assert fakes.secret_values()["sms-service"] == {"apiKey": SMS_API_KEY}


def test_the_ports_come_from_the_stacks_vendor_urls_on_loopback() -> None:
    ports = VendorPorts.of_urls(
        sms="http://127.0.0.1:4571",
        bitly="http://localhost:4572/v4",
        discovery="http://127.0.0.1:4573/discovery/v2",
        accounts="http://127.0.0.1:4574",
    )
    assert ports == VendorPorts(sms=4571, bitly=4572, discovery=4573, accounts=4574)
    with pytest.raises(ValueError, match=r"is not on 127\.0\.0\.1:PORT"):
        VendorPorts.of_urls(sms="https://sms.example.com", bitly="", discovery="", accounts="")


def test_clearing_the_faults_also_drops_scripted_replies(fakes: VendorFakes) -> None:
    # Given a fault plan and a scripted reply for a member
    fakes.configure_faults(parse_faults("discovery-5xx=1"))
    fakes.accounts.reply_for("sandbox-member-1", Reply(503, {"message": "down"}))
    url = f"{fakes.accounts.url}/v1/members/sandbox-member-1"
    assert call("GET", url, headers={"x-api-key": fakes.accounts.api_key})[0] == 503

    # When the faults are cleared / Then every fake answers by its own rules again
    fakes.clear_faults()
    assert str(fakes.plan) == "none"
    assert call("GET", url, headers={"x-api-key": fakes.accounts.api_key})[0] == 200
