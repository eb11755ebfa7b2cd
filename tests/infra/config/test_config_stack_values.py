"""`stack_values`: the config the Pulumi CLI hands the program, decoded for validation."""

from __future__ import annotations

import pytest

from infra.config import ConfigError, stack_values
from tests.infra.config.stack_file_edits import FakeConfig, rejection

# ---------------------------------------------------------------------------------------------
# stack_values: what the Pulumi CLI hands the program
# ---------------------------------------------------------------------------------------------


def test_stack_values_decodes_json_objects_and_lists_and_keeps_plain_strings() -> None:
    # Given config as the CLI passes it: structured values as JSON text, scalars as text
    project = FakeConfig(
        {
            "environment": "qa1",
            "accountId": "012345678901",
            "production": "false",
            "defaults": '{"memoryMb": 512, "logStreaming": false}',
            "workers": '{"event_details": {"timeoutSeconds": 15}}',
            "business": '{"suppressedArtistIds": ["K8vZ9171o_0"]}',
            "observability": '["not", "an", "object"]',
        }
    )

    # When the values are read
    values = stack_values(project, FakeConfig({"region": "eu-west-1"}))

    # Then JSON is decoded, plain strings are left alone, and unset keys are absent
    assert values == {
        "environment": "qa1",
        "accountId": "012345678901",
        "production": "false",
        "defaults": {"memoryMb": 512, "logStreaming": False},
        "workers": {"event_details": {"timeoutSeconds": 15}},
        "business": {"suppressedArtistIds": ["K8vZ9171o_0"]},
        "observability": ["not", "an", "object"],
        "region": "eu-west-1",
    }


def test_stack_values_takes_region_from_the_aws_namespace_only() -> None:
    # Given a region in both namespaces
    project = FakeConfig({"environment": "qa1", "region": "eu-west-1"})

    # When the values are read
    values = stack_values(project, FakeConfig({"region": "us-east-1"}))

    # Then aws:region wins
    assert values["region"] == "us-east-1"


def test_stack_values_without_aws_region_leaves_it_for_validation_to_report() -> None:
    # Given no aws:region
    values = stack_values(FakeConfig({"environment": "qa1"}), FakeConfig({}))

    # When those values are validated
    message = rejection("qa1", {**values, "accountId": "343550350117"})

    # Then the missing key is named as the stack file spells it
    assert values == {"environment": "qa1"}
    assert message == "Pulumi.qa1.yaml: aws:region: Field required"


def test_stack_values_rejects_malformed_json_naming_the_key() -> None:
    # Given a structured value the CLI would never produce
    project = FakeConfig({"environment": "qa1", "defaults": '{"memoryMb": 512'})

    # When the values are read
    with pytest.raises(ConfigError) as raised:
        stack_values(project, FakeConfig({"region": "us-east-1"}))

    # Then the error names the key and the reason
    assert str(raised.value).startswith("dmd-workers:defaults: not valid JSON")


def test_stack_values_rejects_a_misspelt_top_level_key_when_keys_can_be_listed() -> None:
    # Given a stack whose configured keys include a typo and a region in the wrong namespace
    present = ["aws:region", "dmd-workers:environment", "dmd-workers:defualts", "dmd-workers:region"]

    # When the values are read
    with pytest.raises(ConfigError) as raised:
        stack_values(
            FakeConfig({"environment": "qa1"}), FakeConfig({"region": "us-east-1"}), present_keys=present
        )

    # Then each unknown key is named, with the known keys and where the region belongs
    lines = str(raised.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(
        "dmd-workers:defualts: unknown key; the keys are accountId, business, defaults"
    )
    assert lines[1].endswith("(the region is aws:region)")
