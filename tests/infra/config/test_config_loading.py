"""Loading a stack: committed stack files validate, and every worker resolves exactly."""

from __future__ import annotations

import pytest

from infra.catalog import DEMAND_STREAM_TO_SQS_FILTERS, NOTIFICATION_SEND_FILTERS
from infra.config import (
    AlarmSettings,
    ExternalStreamSettings,
    QueueTriggerSettings,
    ScheduleTriggerSettings,
    StreamSettings,
    StreamTriggerSettings,
    load_stack_config,
)
from infra.stack_files import PROJECT_ROOT
from tests.infra.config.stack_file_edits import CATALOG_NAMES, DELETED, VALUES, stack_file_values, with_change

STACK_FILES = sorted(path for path in PROJECT_ROOT.glob("Pulumi.*.yaml") if path.name != "Pulumi.yaml")
STACKS = [path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in STACK_FILES]


# ---------------------------------------------------------------------------------------------
# Committed stack files
# ---------------------------------------------------------------------------------------------


def test_every_committed_stack_file_is_discovered() -> None:
    # Given the stack files next to Pulumi.yaml
    # When they are globbed
    # Then the three committed stacks are found (so the next test cannot pass on an empty list)
    assert {"qa1", "prod1", "local"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_file_validates_and_resolves_every_catalog_worker(stack: str) -> None:
    # Given a committed stack file, read the way the program reads it
    values = stack_file_values(stack)

    # When it is validated
    config = load_stack_config(stack, values)

    # Then every catalog worker is resolved, and nothing else
    assert config.stack == stack
    assert sorted(config.workers) == CATALOG_NAMES


def test_stack_identity_comes_from_the_file_with_account_id_kept_as_text() -> None:
    # Given prod1
    # When it is validated
    config = load_stack_config("prod1", VALUES["prod1"])

    # Then the identity values are as written; the account id is text, not a number
    assert (config.environment, config.region, config.production) == ("prod1", "us-east-1", True)
    assert config.account_id == "210987654321"


# ---------------------------------------------------------------------------------------------
# Resolution: defaults merged with per-worker overrides
# ---------------------------------------------------------------------------------------------


def test_worker_override_wins_over_defaults_key_by_key() -> None:
    # Given prod1, where notification_send overrides memory, concurrency and its trigger only
    # When it is resolved
    worker = load_stack_config("prod1", VALUES["prod1"]).worker("notification_send")

    # Then overridden keys come from the worker and the rest from defaults
    assert worker.memory_mb == 2048
    assert worker.reserved_concurrency == 100
    assert worker.timeout_seconds == 60
    assert worker.architecture == "arm64"
    assert worker.log_retention_days == 30
    assert worker.log_streaming is True
    assert worker.log_level == "INFO"
    assert worker.trigger == StreamTriggerSettings(
        batch_size=200,
        maximum_batching_window_seconds=1,
        parallelization_factor=10,
        maximum_retry_attempts=3,
        maximum_record_age_seconds=3600,
        filter_patterns=NOTIFICATION_SEND_FILTERS,
    )
    assert worker.alarms == AlarmSettings()


def test_worker_without_overrides_gets_the_defaults_and_its_catalog_filters() -> None:
    # Given local, where demand_stream_to_sqs has no entry under workers
    assert "demand_stream_to_sqs" not in VALUES["local"]["workers"]

    # When it is resolved
    worker = load_stack_config("local", VALUES["local"]).worker("demand_stream_to_sqs")

    # Then it carries exactly the stack defaults, the trigger defaults and the catalog's filters
    assert worker.model_dump(exclude={"trigger", "alarms", "tunables"}) == {
        "memory_mb": 512,
        "timeout_seconds": 30,
        "architecture": "arm64",
        "reserved_concurrency": -1,
        "log_retention_days": 1,
        "log_streaming": False,
        "log_level": "DEBUG",
        "snap_start": False,
    }
    assert worker.trigger == StreamTriggerSettings(filter_patterns=DEMAND_STREAM_TO_SQS_FILTERS)
    assert worker.alarms == AlarmSettings()
    assert worker.tunables == {}


def test_removing_a_worker_entry_falls_back_to_defaults_and_default_tunables() -> None:
    # Given prod1 without its event_details entry
    values = with_change(VALUES["prod1"], "workers.event_details", DELETED)

    # When it is resolved
    worker = load_stack_config("prod1", values).worker("event_details")

    # Then the prod1 defaults apply and its tunables are the model defaults as env strings
    assert (worker.memory_mb, worker.timeout_seconds, worker.reserved_concurrency) == (1024, 60, -1)
    assert worker.tunables == {"VENDOR_TIMEOUT_SECONDS": "5"}


def test_tunables_are_rendered_as_upper_snake_environment_strings() -> None:
    # Given prod1, where the scheduler sets all three of its settings
    # When it is resolved
    config = load_stack_config("prod1", VALUES["prod1"])

    # Then each tunable is an UPPER_SNAKE key with a string value; unset ones keep their defaults
    assert config.worker("notification_scheduler").tunables == {
        "LEAD_MINUTES": "30",
        "WINDOW_MINUTES": "30",
        "EVENT_FETCH_PARALLELISM": "16",
    }
    assert config.worker("notification_generator").tunables == {
        "WRITE_PARALLELISM": "32",
        "DEMAND_PAGE_SIZE": "1000",
        "CONTINUATION_MARGIN_SECONDS": "20",
        "SHORT_URL_TIMEOUT_SECONDS": "3",
        "LATE_GRACE_MINUTES": "5",
        "RELEASE_AFTER_MINUTES": "5",
    }


def test_trigger_settings_take_the_model_of_the_catalog_source() -> None:
    # Given qa1
    # When it is resolved
    config = load_stack_config("qa1", VALUES["qa1"])

    # Then each worker's trigger is parsed by the model of its source kind
    assert config.worker("notification_scheduler").trigger == ScheduleTriggerSettings(
        schedule_expression="cron(0/30 * * * ? *)"
    )
    assert config.worker("notification_generator").trigger == QueueTriggerSettings(
        batch_size=1, maximum_concurrency=5
    )
    assert config.worker("sms_status_consumer").trigger == StreamTriggerSettings(
        batch_size=500, maximum_batching_window_seconds=30
    )


def test_filter_patterns_in_the_stack_file_replace_the_catalog_defaults() -> None:
    # Given qa1 with one notification_send filter pattern written as a JSON string
    values = with_change(
        VALUES["qa1"],
        "workers.notification_send.trigger.filterPatterns",
        ['{"data": {"eventName": ["INSERT"]}}'],
    )

    # When it is resolved
    trigger = load_stack_config("qa1", values).worker("notification_send").trigger

    # Then that pattern, parsed, is the only one
    assert isinstance(trigger, StreamTriggerSettings)
    assert trigger.filter_patterns == ({"data": {"eventName": ["INSERT"]}},)


def test_sms_status_stream_is_created_or_referenced_by_the_keys_given() -> None:
    # Given qa1 (a stream with shards) and prod1 (another team's stream by ARN)
    # When they are resolved
    qa1 = load_stack_config("qa1", VALUES["qa1"]).platform
    prod1 = load_stack_config("prod1", VALUES["prod1"]).platform

    # Then qa1 creates its stream and prod1 references the existing one
    assert qa1.sms_status_stream == StreamSettings(mode="PROVISIONED", shard_count=1, retention_hours=24)
    assert prod1.sms_status_stream == ExternalStreamSettings(
        existing_arn="arn:aws:kinesis:us-east-1:210987654321:stream/prd3292-prod1-sms-status",
        retention_hours=24,
    )


TEAM_KEY = "arn:aws:kms:us-east-1:343550350117:key/5e6f7081-92a3-4b4c-8d9e-0f1a2b3c4d5e"


@pytest.mark.parametrize(
    ("stack", "kms", "create", "key_arn"),
    [
        ("qa1", {"create": True}, True, None),
        ("qa1", {"keyArn": TEAM_KEY}, False, TEAM_KEY),
        ("prod1", {"create": True, "deletionWindowDays": 7}, True, None),
    ],
)
def test_platform_kms_is_created_or_an_existing_key(
    stack: str, kms: dict[str, object], create: bool, key_arn: str | None
) -> None:
    # Given platform.kms written as a created key or an existing key's ARN
    values = with_change(VALUES[stack], "platform.kms", kms)

    # When the stack is loaded
    settings = load_stack_config(stack, values).platform.kms

    # Then it holds exactly that choice (a created key's deletion window defaults to 30 days)
    assert settings is not None
    assert (settings.create, settings.key_arn) == (create, key_arn)
    assert settings.deletion_window_days == kms.get("deletionWindowDays", 30)


def test_a_non_production_stack_may_keep_aws_managed_keys() -> None:
    # Given qa1 (not production) without platform.kms
    values = with_change(VALUES["qa1"], "platform.kms", DELETED)

    # When it is loaded
    # Then it is accepted, with no customer-managed key
    assert load_stack_config("qa1", values).platform.kms is None
