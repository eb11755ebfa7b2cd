"""Settings read the environment as pydantic-settings did: aliases, any case, unknown names ignored."""

from __future__ import annotations

import pydantic
import pytest
from pydantic import AliasChoices, Field

from workers.shared.settings import CommaSeparated, WorkerSettings, environment_input, load_settings

FLEET = {
    "DMD_ENVIRONMENT": "qa1",
    "POWERTOOLS_SERVICE_NAME": "notification_send",
    "POWERTOOLS_METRICS_NAMESPACE": "DmdWorkers",
}


class QueueSettings(WorkerSettings):
    """A worker reading an aliased variable, one under any of two names, and a list."""

    queue_url: str = Field(validation_alias="SHORT_URL_QUEUE_URL")
    bucket: str = Field(default="none", validation_alias=AliasChoices("REPORT_BUCKET", "LEGACY_BUCKET"))
    suppressed_artist_ids: CommaSeparated = ()


@pytest.fixture
def fleet_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in FLEET.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SHORT_URL_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/q")
    return monkeypatch


def test_variable_names_are_matched_whatever_their_case(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given variables spelt in lower and mixed case
    environ = {
        "dmd_environment": "qa1",
        "Powertools_Service_Name": "send",
        "aws_region": "eu-west-1",
        "suppressed_artist_ids": "a,b",
    }

    # When the settings' input is read from them
    found = environment_input(QueueSettings, environ)

    # Then each is found under the name its field validates
    assert found == {
        "DMD_ENVIRONMENT": "qa1",
        "POWERTOOLS_SERVICE_NAME": "send",
        "AWS_REGION": "eu-west-1",
        "suppressed_artist_ids": "a,b",
    }


def test_an_alias_choice_falls_back_to_its_next_name(fleet_env: pytest.MonkeyPatch) -> None:
    # Given only the second name of each alias choice
    fleet_env.delenv("AWS_REGION", raising=False)
    fleet_env.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    fleet_env.setenv("LEGACY_BUCKET", "legacy")

    # When the settings load
    settings = load_settings(QueueSettings)

    # Then the second names are read
    assert (settings.aws_region, settings.bucket) == ("eu-west-1", "legacy")


def test_the_first_alias_choice_that_is_set_wins(fleet_env: pytest.MonkeyPatch) -> None:
    # Given both names of each alias choice (Lambda sets both regions)
    fleet_env.setenv("AWS_REGION", "us-east-1")
    fleet_env.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    fleet_env.setenv("REPORT_BUCKET", "new")
    fleet_env.setenv("LEGACY_BUCKET", "old")

    # When the settings load
    settings = load_settings(QueueSettings)

    # Then the first name is read
    assert (settings.aws_region, settings.bucket) == ("us-east-1", "new")


def test_unknown_variables_are_ignored_and_settings_are_frozen(fleet_env: pytest.MonkeyPatch) -> None:
    # Given a variable no field reads
    fleet_env.setenv("UNRELATED_VARIABLE", "x")

    # When the settings load
    settings = load_settings(QueueSettings)

    # Then it is not read, lists are split on commas, and the settings cannot be changed
    assert "UNRELATED_VARIABLE" not in environment_input(QueueSettings, {"UNRELATED_VARIABLE": "x"})
    assert settings.suppressed_artist_ids == ()
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        settings.queue_url = "other"  # type: ignore[misc]
    assert hash(settings) == hash(load_settings(QueueSettings))
