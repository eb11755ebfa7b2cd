"""The forwarder's settings against the environment the synthesized `local` stack gives its function."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from deployed_environment import (
    declared_environment,
    declared_own_variables,
    own_variables,
    required_variables,
    use_environment,
)

from workers.demand_stream_to_sqs.handler import lambda_handler
from workers.demand_stream_to_sqs.settings import StreamToSqsSettings
from workers.shared import clients
from workers.shared.errors import SettingsError
from workers.shared.settings import clear_settings_cache, load_settings

WORKER = "demand_stream_to_sqs"
pytestmark = [
    pytest.mark.slow,  # the first synth of the stack takes about two seconds
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]


def test_the_settings_read_exactly_the_variables_infra_declares() -> None:
    # Given the worker's function in the synthesized local stack
    declared = declared_environment("local", WORKER)
    # Then the settings read its own variables, no more and no fewer
    assert (
        own_variables(StreamToSqsSettings)
        == declared_own_variables(declared)
        == {
            "SHORT_URL_QUEUE_URL",
            "PARKING_QUEUE_URL",
        }
    )


def test_the_handler_runs_with_only_the_declared_environment(
    aws: None, monkeypatch: pytest.MonkeyPatch, lambda_context: Any, load_event: Callable[[str], Any]
) -> None:
    # Given exactly the declared environment, and the queue it names (moto's default account)
    declared = declared_environment("local", WORKER)
    use_environment(monkeypatch, declared, StreamToSqsSettings)
    clients.sqs().create_queue(QueueName="prd3292-local-us-east-1-event-short-url")

    # When a realistic batch is handled
    response = lambda_handler(load_event("demand_stream_to_sqs-table-stream.json"), lambda_context)

    # Then the settings came from it and the jobs reached the declared queue
    assert response == {"batchItemFailures": []}
    assert load_settings(StreamToSqsSettings).short_url_queue_url == declared["SHORT_URL_QUEUE_URL"]
    received = clients.sqs().receive_message(
        QueueUrl=declared["SHORT_URL_QUEUE_URL"], MaxNumberOfMessages=10
    )["Messages"]
    assert sorted(json.loads(message["Body"])["eventId"] for message in received) == [
        "Z7r9jZ1AdJ9Fe",
        "vvG1IZ9KBxv3Tg",
    ]


def test_each_missing_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the declared environment
    declared = declared_environment("local", WORKER)
    required = required_variables(StreamToSqsSettings, declared)
    assert "SHORT_URL_QUEUE_URL" in required

    # When any one required variable is missing / Then loading fails naming exactly it
    for missing in required:
        use_environment(monkeypatch, {k: v for k, v in declared.items() if k != missing}, StreamToSqsSettings)
        with pytest.raises(SettingsError, match=rf"StreamToSqsSettings: {missing} is not set$"):
            load_settings(StreamToSqsSettings)
    clear_settings_cache()
