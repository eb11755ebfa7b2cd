"""The Discovery client against a fake Discovery API on 127.0.0.1, and its API key secret (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from discovery_payloads import discovery_payload
from runtime_fakes import Scripted, ScriptedServer

from sandbox.vendors import DISCOVERY_API_KEY as API_KEY
from sandbox.vendors import Discovery
from workers.shared.discovery.client import DiscoveryClient, api_key_from_secret
from workers.shared.discovery.errors import EventNotFoundError, InvalidEventPayloadError
from workers.shared.errors import PermanentVendorError, RetryableVendorError, SecretError


@pytest.fixture
def discovery() -> Iterator[Discovery]:
    fake = Discovery()
    fake.start()
    yield fake
    fake.stop()


def client(url: str, delays: list[float] | None = None) -> DiscoveryClient:
    recorded = delays if delays is not None else []
    return DiscoveryClient(url, api_key=lambda: API_KEY, timeout_seconds=2, sleep=recorded.append)


def test_an_event_is_fetched_in_every_locale_with_the_api_key(discovery: Discovery) -> None:
    # Given Discovery knows the event
    payload = discovery.add(discovery_payload("music-us"))

    # When the client fetches it
    fetched = client(discovery.url).event("vvG1IZ9KBxv3Tg")

    # Then the payload comes back, requested with the key and locale=*
    assert fetched == payload
    assert discovery.calls == {"vvG1IZ9KBxv3Tg": 1}
    assert [request.query for request in discovery.requests] == [{"apikey": [API_KEY], "locale": ["*"]}]


def test_an_unknown_event_is_a_typed_not_found_error(discovery: Discovery) -> None:
    # Given Discovery answers 404 DIS1004 / When the event is fetched
    with pytest.raises(EventNotFoundError) as raised:
        client(discovery.url).event("vvG1IZ9KBxv3Tx")

    # Then the permanent error names the event and keeps Discovery's reason
    assert str(raised.value) == "event 'vvG1IZ9KBxv3Tx' was not found at Discovery"
    assert raised.value.status_code == 404
    assert raised.value.reason.startswith("Resource not found with provided criteria")
    assert isinstance(raised.value, PermanentVendorError)


def test_a_malformed_id_never_reaches_discovery(discovery: Discovery) -> None:
    # Given an id that would change the request path / When fetched / Then not found, no call made
    with pytest.raises(EventNotFoundError):
        client(discovery.url).event("../attractions/K8vZ917oWOV")
    assert discovery.calls == {}


def test_an_outage_is_retried_then_reported_as_retryable(discovery: Discovery) -> None:
    # Given Discovery answers 503 every time
    discovery.add(discovery_payload("music-us"))
    discovery.reply_for("vvG1IZ9KBxv3Tg", Discovery.unavailable())
    delays: list[float] = []

    # When the event is fetched / Then three attempts are made and the error is retryable
    with pytest.raises(RetryableVendorError):
        client(discovery.url, delays).event("vvG1IZ9KBxv3Tg")
    assert discovery.calls["vvG1IZ9KBxv3Tg"] == 3
    assert len(delays) == 2


def test_a_passing_outage_is_absorbed_by_a_retry(discovery: Discovery) -> None:
    # Given Discovery fails once with 503, then answers
    payload = discovery.add(discovery_payload("music-us"))
    discovery.reply_next(Discovery.unavailable())
    # When fetched / Then the second attempt's payload is returned
    assert client(discovery.url).event("vvG1IZ9KBxv3Tg") == payload
    assert discovery.calls["vvG1IZ9KBxv3Tg"] == 2


def test_a_rejected_api_key_is_permanent_but_not_not_found(discovery: Discovery) -> None:
    # Given a wrong key / When fetched / Then a permanent 401 that is not mistaken for a missing event
    bad_key = DiscoveryClient(discovery.url, api_key=lambda: "wrong", timeout_seconds=2)
    with pytest.raises(PermanentVendorError) as raised:
        bad_key.event("vvG1IZ9KBxv3Tg")
    assert raised.value.status_code == 401
    assert not isinstance(raised.value, EventNotFoundError)
    assert raised.value.reason == "Invalid ApiKey"


@pytest.mark.parametrize(
    ("body", "reason"), [(b"<html>maintenance</html>", "not JSON"), (b"[1, 2]", "not a JSON object")]
)
def test_a_2xx_answer_that_is_not_an_event_object_is_an_invalid_payload(body: bytes, reason: str) -> None:
    # Given a vendor answering 200 with something that is not an event
    server = ScriptedServer()
    server.start()
    try:
        server.respond(Scripted(status=200, body=body))
        # When fetched / Then a typed permanent error says why
        with pytest.raises(InvalidEventPayloadError, match=reason):
            client(server.url).event("vvG1IZ9KBxv3Tg")
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ({"apiKey": "key-123"}, "key-123"),
        ({"token": "key-123"}, SecretError),
        ({"apiKey": ""}, SecretError),
    ],
)
def test_the_api_key_comes_from_the_discovery_secret(
    aws: None, secret: dict[str, str], expected: str | type[Exception]
) -> None:
    # Given the Discovery secret in Secrets Manager
    arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="prd3292-test-us-east-1/discovery", SecretString=json.dumps(secret)
    )["ARN"]

    # When the key is read / Then it is the apiKey string, or SecretError naming the secret
    if isinstance(expected, str):
        assert api_key_from_secret(arn) == expected
    else:
        with pytest.raises(expected, match="has no apiKey"):
            api_key_from_secret(arn)
