"""The suite-wide hermetic fixtures: what every test can rely on about its environment."""

from __future__ import annotations

import os
from pathlib import Path

import boto3


def test_every_test_sees_fake_credentials_and_no_aws_files() -> None:
    # Given the autouse hermetic_aws fixture
    # When a test reads its AWS environment
    environment = {key: value for key, value in os.environ.items() if key.startswith("AWS_")}

    # Then only the fake credentials, the default region and missing config files are visible
    assert environment["AWS_ACCESS_KEY_ID"] == "testing"
    assert environment["AWS_DEFAULT_REGION"] == "us-east-1"
    assert environment["AWS_EC2_METADATA_DISABLED"] == "true"
    assert "AWS_PROFILE" not in environment
    assert not Path(environment["AWS_CONFIG_FILE"]).exists()
    assert not Path(environment["AWS_SHARED_CREDENTIALS_FILE"]).exists()


def test_boto3_resolves_the_fake_credentials() -> None:
    # Given the autouse hermetic_aws fixture
    # When boto3 resolves credentials the way every client does
    credentials = boto3.session.Session().get_credentials()

    # Then it finds the fake ones from the environment, never a profile or instance role
    assert credentials is not None
    assert (credentials.access_key, credentials.method) == ("testing", "env")


def test_no_pulumi_config_leaks_from_the_shell() -> None:
    # Given the autouse hermetic_pulumi_config fixture
    # When a test looks for the variables pulumi.Config falls back to
    # Then there are none
    assert not [key for key in os.environ if key.startswith("PULUMI_CONFIG")]
