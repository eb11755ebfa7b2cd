"""The HTTP side every vendor fake shares: routing, request log, scripted replies, counts, signatures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.vendors import Effect, Headers, Reply, Route, VendorRequest, VendorServer, is_sigv4_signed
from tests.sandbox.vendor_calls import call


class Things(VendorServer):
    """A minimal fake: `/things/{key}` answers its key and a header it was sent; `boom` is a fake's bug."""

    vendor = "things"

    def route(self, request: VendorRequest) -> Route | Reply:
        if not request.path.startswith("/things/"):
            return Reply(404, {"message": "no such thing"})
        return Route("things", request.path.removeprefix("/things/"))

    def decide(self, request: VendorRequest, key: str | None) -> tuple[Reply, Effect | None]:
        if key == "boom":
            raise RuntimeError("a bug in the fake")
        return Reply(200, {"key": key, "custom": request.headers.get("X-Custom")}), None


@pytest.fixture
def things() -> Iterator[Things]:
    server = Things(request_log_size=2)
    server.start()
    yield server
    server.stop()


def test_a_routed_request_is_answered_logged_and_counted_by_endpoint_and_key(things: Things) -> None:
    # When a thing is asked for with a header, a query and a body, by PUT
    status, body = call("PUT", f"{things.url}/things/t1?a=1&a=2", {"n": 1}, {"X-Custom": "yes"})

    # Then the fake's answer comes back, the request is logged as received and counted
    assert (status, body) == (200, {"key": "t1", "custom": "yes"})
    [request] = things.requests
    assert (request.method, request.path, request.query, request.json()) == (
        "PUT",
        "/things/t1",
        {"a": ["1", "2"]},
        {"n": 1},
    )
    assert things.counters.of_key("things", "t1") == 1
    assert things.counters.answers == {("things", 200): 1}


def test_header_names_match_in_any_case() -> None:
    headers = Headers([("X-Api-Key", "k"), ("Authorization", "a")])
    assert headers["x-api-key"] == headers["X-API-KEY"] == "k"
    assert "authorization" in headers and "AUTHORIZATION" in headers and "Cookie" not in headers
    assert headers.get("x-amz-date") is None
    assert dict(headers) == {"x-api-key": "k", "authorization": "a"}


def test_the_request_log_keeps_only_the_most_recent_requests(things: Things) -> None:
    for key in ("t1", "t2", "t3"):
        call("GET", f"{things.url}/things/{key}")
    assert [request.path for request in things.requests] == ["/things/t2", "/things/t3"]
    assert things.counters.requests["things"] == 3


def test_an_unknown_route_gets_the_vendors_404_and_is_not_counted(things: Things) -> None:
    assert call("DELETE", f"{things.url}/elsewhere") == (404, {"message": "no such thing"})
    assert things.counters.requests == {}
    assert len(things.requests) == 1


def test_a_bug_in_a_fake_answers_500_instead_of_hanging_the_client(things: Things) -> None:
    assert call("GET", f"{things.url}/things/boom") == (500, {"message": "fake vendor error"})


def test_scripted_replies_answer_verbatim_before_the_fakes_rules_and_are_counted(things: Things) -> None:
    # Given two replies scripted for the next requests, whatever they name
    things.reply_next(Reply(418, {"message": "teapot"}), Reply(200, ["not", "a", "thing"]))

    # When three requests arrive, one of them on no route
    answers = [call("GET", f"{things.url}/{path}") for path in ("elsewhere", "things/t1", "things/t1")]

    # Then the scripted replies come first, in order, then the fake answers by its own rules
    assert answers == [
        (418, {"message": "teapot"}),
        (200, ["not", "a", "thing"]),
        (200, {"key": "t1", "custom": None}),
    ]
    assert things.counters.answers == {("things", 200): 2}
    assert things.counters.faults == {}


def test_a_reply_for_a_key_answers_every_request_of_it_until_cleared(things: Things) -> None:
    # Given a reply scripted for one key
    things.reply_for("t1", Reply(503, {"message": "down"}))

    # Then that key gets it every time, another key the fake's answer; clearing restores the fake
    assert [call("GET", f"{things.url}/things/t1")[0] for _ in range(3)] == [503, 503, 503]
    assert call("GET", f"{things.url}/things/t2")[0] == 200
    things.clear_replies()
    assert call("GET", f"{things.url}/things/t1")[0] == 200
    assert things.counters.of_key("things", "t1") == 4


SIGNED = {
    "authorization": (
        "AWS4-HMAC-SHA256 Credential=ASIA/20240101/us-east-1/execute-api/aws4_request, "
        "SignedHeaders=host;x-amz-date;x-amz-security-token;x-api-key, Signature=abc"
    ),
    "x-amz-date": "20240101T000000Z",
    "x-amz-security-token": "token",
    "x-api-key": "k",
}


@pytest.mark.parametrize(
    ("change", "signed"),
    [
        ({}, True),
        ({"authorization": ""}, False),
        ({"authorization": SIGNED["authorization"].replace("execute-api", "s3")}, False),
        ({"authorization": SIGNED["authorization"].replace(";x-api-key", "")}, False),
        ({"x-amz-date": ""}, False),
        ({"x-amz-security-token": ""}, False),
    ],
)
def test_a_sigv4_signature_is_of_execute_api_with_session_credentials_and_the_api_key(
    change: dict[str, str], signed: bool
) -> None:
    assert is_sigv4_signed({**SIGNED, **change}) is signed
