"""Counting the AWS API calls of a run: the emulator's request recording, read back by kind and caller."""

from __future__ import annotations

import io
import json
from collections import Counter
from typing import Any
from urllib.parse import urlencode

from sandbox.api_calls import ApiCall, ApiCalls, count_calls, email_sends
from sandbox.emulator import CALLS_PATH, CountedCalls
from sandbox.emulator_server import CallCounter


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


def test_counted_calls_split_by_caller_and_sum_by_service_operation() -> None:
    # Given the emulator's counts of a worker's and the sandbox's calls, and a kept email send
    counted = CountedCalls(
        counts={
            ("dynamodb", "UpdateItem", ""): 2,
            ("dynamodb", "UpdateItem", "dmd-sandbox"): 1,
            ("kinesis", "GetRecords", "dmd-sandbox"): 5,
            ("ses", "SendTemplatedEmail", ""): 1,
        },
        kept=[("SendTemplatedEmail", "Action=SendTemplatedEmail"), ("PutItem", "{}")],
    )
    # When they are read as the run's API calls
    calls = ApiCalls.of(counted, sandbox_appid="dmd-sandbox")
    # Then the calls without the sandbox's app id are the workers', the others the sandbox's
    assert calls.total(by_workers=True) == 3 and calls.total(by_workers=False) == 6
    assert calls.of_workers() == Counter(
        {ApiCall("dynamodb", "UpdateItem", by_workers=True): 2, ApiCall("ses", "SendTemplatedEmail", True): 1}
    )
    assert count_calls(calls.of_sandbox()) == Counter({"kinesis:GetRecords": 5, "dynamodb:UpdateItem": 1})
    assert count_calls(calls.counts) == Counter(
        {"dynamodb:UpdateItem": 3, "kinesis:GetRecords": 5, "ses:SendTemplatedEmail": 1}
    )
    # And only the SES sends' bodies are kept for the duplicates check
    assert calls.email_bodies == ["Action=SendTemplatedEmail"]
