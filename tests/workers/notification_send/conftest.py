"""Fixtures of the sender's tests: the fake SMS service, its secret, SES templates and the worker's env."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from send_builders import SMS_APP_IDS, FakeClock, TableStream
from send_harness import Harness, ScriptedChannel

from infra.email_templates import TEMPLATES
from sandbox.vendors import SMS_API_KEY as API_KEY
from sandbox.vendors import SmsService
from workers.shared.repository import DemandRepository

TEMPLATE_PREFIX = "prd3292-test-us-east-1-sale-reminder"
FROM_ADDRESS = "reminders@sandbox.example.com"


@pytest.fixture
def repository(demand_table: str) -> DemandRepository:
    """The demand repository on the moto table."""
    return DemandRepository(demand_table, sales_index="sales", demand_index="demand-by-sale")


@pytest.fixture
def stream(demand_table: str) -> TableStream:
    """The table's change stream as the sender receives it."""
    return TableStream(demand_table)


@pytest.fixture
def sms_service() -> Iterator[SmsService]:
    """The internal SMS service on 127.0.0.1."""
    service = SmsService()
    service.start()
    yield service
    service.stop()


@pytest.fixture
def sms_secret(aws: None) -> str:
    """The sms-service secret in moto (`{"apiKey": ...}`); returns its ARN."""
    secrets = boto3.client("secretsmanager")
    return secrets.create_secret(
        Name="prd3292-test-us-east-1/sms-service", SecretString=json.dumps({"apiKey": API_KEY})
    )["ARN"]


@pytest.fixture
def ses_templates(aws: None) -> str:
    """The sender identity and one template per locale in moto SES, as infra declares them; the prefix."""
    ses = boto3.client("ses")
    ses.verify_domain_identity(Domain=FROM_ADDRESS.split("@")[1])
    for locale, template in TEMPLATES.items():
        ses.create_template(
            Template={
                "TemplateName": f"{TEMPLATE_PREFIX}-{locale}",
                "SubjectPart": template.subject,
                "TextPart": template.text,
                "HtmlPart": template.html,
            }
        )
    return TEMPLATE_PREFIX


@pytest.fixture
def send_env(
    monkeypatch: pytest.MonkeyPatch,
    demand_table: str,
    sms_service: SmsService,
    sms_secret: str,
    ses_templates: str,
) -> None:
    """The variables infra gives the sender, pointed at moto and the fake (no backoff wait, short timeout)."""
    variables = {
        "DMD_ENVIRONMENT": "test",
        "POWERTOOLS_SERVICE_NAME": "notification_send",
        "POWERTOOLS_METRICS_NAMESPACE": "DmdWorkersTest",
        "DEMAND_TABLE_NAME": demand_table,
        "DEMAND_TABLE_SALES_INDEX": "sales",
        "DEMAND_TABLE_DEMAND_INDEX": "demand-by-sale",
        "DEMAND_TABLE_MESSAGE_INDEX": "notification-by-message-id",
        "DEMAND_TABLE_PENDING_INDEX": "pending-notifications",
        "SMS_SERVICE_URL": sms_service.url,
        "SMS_SERVICE_SECRET_ARN": sms_secret,
        "SMS_APP_IDS": json.dumps(SMS_APP_IDS),
        "EMAIL_FROM_ADDRESS": FROM_ADDRESS,
        "EMAIL_TEMPLATE_PREFIX": ses_templates,
        "MAX_SEND_ATTEMPTS": "3",
        "RETRY_BACKOFF_SECONDS": "0",
        "VENDOR_TIMEOUT_SECONDS": "2",
        "LATE_GRACE_MINUTES": "5",
        "RELEASE_AFTER_MINUTES": "5",
        "BREAKER_FAILURES": "5",
        "BREAKER_COOLDOWN_SECONDS": "10",
    }
    monkeypatch.delenv("SMS_SERVICE_ROLE_ARN", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def harness(repository: DemandRepository, stream: TableStream) -> Harness:
    """The sender on the moto table with a scripted channel and a fake clock."""
    clock = FakeClock()
    return Harness(repository, stream, clock, ScriptedChannel(clock))
