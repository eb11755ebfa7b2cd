"""Physical names: one convention, built in one place (a renamed resource is a replaced resource)."""

from __future__ import annotations

from infra.naming import (
    Naming,
    dead_letter_queue_name,
    log_group_name,
    log_subscription_name,
    on_failure_queue_name,
    role_policy_name,
    schedule_dlq_name,
    schedule_rule_name,
)

QA1 = Naming(environment="qa1", region="us-east-1")


def test_worker_names_derive_from_the_inventory_code() -> None:
    # Given notification_send's inventory code in qa1
    function = QA1.function_name("ntfcn-snd")

    # When every name of its resources is built
    # Then each is the function's name with its own suffix
    assert function == "prd3292-qa1-us-east-1-ntfcn-snd"
    assert log_group_name(function) == "/aws/lambda/prd3292-qa1-us-east-1-ntfcn-snd"
    assert role_policy_name(function) == "prd3292-qa1-us-east-1-ntfcn-snd-least-privilege"
    assert log_subscription_name(function) == "prd3292-qa1-us-east-1-ntfcn-snd-to-central-logs"
    assert on_failure_queue_name(function) == "prd3292-qa1-us-east-1-ntfcn-snd-on-failure"
    assert schedule_rule_name(function) == "prd3292-qa1-us-east-1-ntfcn-snd-schedule"
    assert schedule_dlq_name(function) == "prd3292-qa1-us-east-1-ntfcn-snd-schedule-dlq"
    assert QA1.log_delivery_role_name("ntfcn-snd") == "prd3292-qa1-us-east-1-ntfcn-snd-logs"
    assert QA1.resolver_role_name("evnt-dtls") == "prd3292-qa1-us-east-1-evnt-dtls-appsync"


def test_platform_names_carry_the_stack_prefix_and_the_table_stream_is_regionless() -> None:
    # Given qa1
    # When the platform's names are built
    # Then each is prefixed, except the table stream, which is environment-wide
    assert QA1.table_name == "prd3292-qa1-us-east-1-demand-table"
    assert QA1.table_stream_name == "prd3292-qa1-dmnd-table-stream"
    assert QA1.sms_status_stream_name == "prd3292-qa1-us-east-1-sms-status"
    assert QA1.queue_name("event-short-url") == "prd3292-qa1-us-east-1-event-short-url"
    assert (
        dead_letter_queue_name(QA1.queue_name("event-short-url"))
        == "prd3292-qa1-us-east-1-event-short-url-dlq"
    )
    assert QA1.alarm_topic_name == "prd3292-qa1-us-east-1-alarms"
    assert QA1.api_name == "prd3292-qa1-us-east-1-api"
    assert QA1.api_logging_role_name == "prd3292-qa1-us-east-1-api-logs"
    assert QA1.dashboard_name == "prd3292-qa1-us-east-1-fleet"
    assert QA1.secret_name("sms_service") == "prd3292-qa1-us-east-1/sms-service"
    assert QA1.email_template_prefix == "prd3292-qa1-us-east-1-sale-reminder"
    assert QA1.email_template_name("fr-ca") == "prd3292-qa1-us-east-1-sale-reminder-fr-ca"
    assert QA1.layer_name("arm64") == "prd3292-qa1-us-east-1-deps-arm64"


def test_every_taggable_resource_carries_the_same_tags_with_its_owner() -> None:
    # Given a worker's inventory code
    # When tags are built for it and for the platform
    # Then only the inventory code differs
    assert QA1.tags("ntfcn-snd") == {
        "ProductCode": "PRD3292",
        "ProductName": "demand-capture",
        "Environment": "qa1",
        "InventoryCode": "ntfcn-snd",
        "Repository": "demand-capture/dmd-workers",
        "ManagedBy": "pulumi",
    }
    assert QA1.tags() == {**QA1.tags("ntfcn-snd"), "InventoryCode": "dmnd"}
