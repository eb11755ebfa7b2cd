"""Fixtures of the stream forwarder's tests: a moto short-url queue and the worker's environment."""

from __future__ import annotations

import pytest

from workers.shared import clients


@pytest.fixture
def short_url_queue(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """A moto short-url queue, configured as the worker's SHORT_URL_QUEUE_URL; returns its URL."""
    url = clients.sqs().create_queue(QueueName="prd3292-test-us-east-1-event-short-url")["QueueUrl"]
    monkeypatch.setenv("SHORT_URL_QUEUE_URL", url)
    return url
