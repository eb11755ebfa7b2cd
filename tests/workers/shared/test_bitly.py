"""Bitly v4 client against a behavioural fake on 127.0.0.1: request shape, links, rate limits, errors."""

from __future__ import annotations

import pytest

from sandbox.vendors import BITLY_TOKEN as TOKEN
from sandbox.vendors import Bitly, Reply
from workers.shared import clients
from workers.shared.bitly import BitlyClient, BitlyRateLimitedError, bitly_client
from workers.shared.errors import PermanentVendorError, RetryableVendorError, SecretError


class Sleeps(list[float]):
    """Injected sleep: records the delays."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def client(bitly: Bitly, bitly_secret: str, sleeps: Sleeps, group_guid: str | None = None) -> BitlyClient:
    return bitly_client(
        bitly.url, secret_arn=bitly_secret, group_guid=group_guid, timeout_seconds=2, sleep=sleeps
    )


def test_shorten_posts_the_documented_body_with_the_bearer_token(
    bitly: Bitly, bitly_secret: str, sleeps: Sleeps
) -> None:
    # When a URL is shortened twice
    shortener = client(bitly, bitly_secret, sleeps)
    first = shortener.shorten("https://www.ticketmaster.com/event/E1?utm_source=dmd")
    second = shortener.shorten("https://www.ticketmaster.com/event/E1?utm_source=dmd")

    # Then both answers (201, then 200 for the known URL) carry the same link and id
    assert first == second
    assert first.link == f"https://{first.id}" and first.id.startswith("bit.ly/")
    call = bitly.shorten_calls[0]
    assert (call.method, call.path) == ("POST", "/v4/shorten")
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.json() == {
        "long_url": "https://www.ticketmaster.com/event/E1?utm_source=dmd",
        "domain": "bit.ly",
    }


def test_the_group_guid_is_sent_when_configured(bitly: Bitly, bitly_secret: str, sleeps: Sleeps) -> None:
    client(bitly, bitly_secret, sleeps, group_guid="Ba1bc23dE4F").shorten("https://example.com/e")
    assert bitly.shorten_calls[0].json()["group_guid"] == "Ba1bc23dE4F"


def test_429_is_retried_with_backoff_then_succeeds(bitly: Bitly, bitly_secret: str, sleeps: Sleeps) -> None:
    bitly.reply_next(Bitly.rate_limited(429), Bitly.rate_limited(429))
    link = client(bitly, bitly_secret, sleeps).shorten("https://example.com/e")
    assert link.link.startswith("https://bit.ly/")
    assert len(bitly.shorten_calls) == 3 and len(sleeps) == 2


def test_429_until_attempts_run_out_is_a_rate_limit_error(
    bitly: Bitly, bitly_secret: str, sleeps: Sleeps
) -> None:
    bitly.reply_next(*[Bitly.rate_limited(429)] * 3)
    with pytest.raises(BitlyRateLimitedError) as raised:
        client(bitly, bitly_secret, sleeps).shorten("https://example.com/e")
    assert isinstance(raised.value, RetryableVendorError)
    assert (raised.value.status_code, raised.value.reason) == (429, "RATE_LIMIT_EXCEEDED")


def test_403_rate_limit_is_retryable_at_once_but_other_403s_are_permanent(
    bitly: Bitly, bitly_secret: str, sleeps: Sleeps
) -> None:
    # Given Bitly's documented 403 RATE_LIMIT_EXCEEDED, then a 403 for a bad token
    bitly.reply_next(
        Bitly.rate_limited(403), Reply(403, {"message": "FORBIDDEN", "description": "Forbidden"})
    )
    shortener = client(bitly, bitly_secret, sleeps)

    # Then the first is a retryable rate limit without an in-process retry, the second permanent
    with pytest.raises(BitlyRateLimitedError):
        shortener.shorten("https://example.com/e")
    with pytest.raises(PermanentVendorError, match="FORBIDDEN") as raised:
        shortener.shorten("https://example.com/e")
    assert not isinstance(raised.value, RetryableVendorError)
    assert len(bitly.shorten_calls) == 2 and sleeps == []


def test_an_invalid_long_url_is_permanent_with_bitlys_code(
    bitly: Bitly, bitly_secret: str, sleeps: Sleeps
) -> None:
    with pytest.raises(PermanentVendorError, match="INVALID_ARG_LONG_URL") as raised:
        client(bitly, bitly_secret, sleeps).shorten("not-a-url")
    assert raised.value.status_code == 400


def test_5xx_is_repeated_because_bitly_answers_a_known_url_with_the_same_link(
    bitly: Bitly, bitly_secret: str, sleeps: Sleeps
) -> None:
    bitly.reply_next(Reply(503, {"message": "TEMPORARILY_UNAVAILABLE"}), Reply(502, None))
    assert client(bitly, bitly_secret, sleeps).shorten("https://example.com/e").link
    assert len(bitly.shorten_calls) == 3


def test_a_success_without_a_link_is_retryable(bitly: Bitly, bitly_secret: str, sleeps: Sleeps) -> None:
    bitly.reply_next(Reply(200, {"id": "bit.ly/x"}))
    with pytest.raises(RetryableVendorError, match="unexpected shorten response: link"):
        client(bitly, bitly_secret, sleeps).shorten("https://example.com/e")


def test_a_secret_without_a_token_is_a_secret_error(aws: None, bitly: Bitly, sleeps: Sleeps) -> None:
    arn = clients.secretsmanager().create_secret(Name="x", SecretString='{"apiKey": "k"}')["ARN"]
    with pytest.raises(SecretError, match="has no non-empty 'token'"):
        client(bitly, arn, sleeps).shorten("https://example.com/e")
    assert bitly.requests == []
