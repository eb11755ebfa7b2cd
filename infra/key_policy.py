"""The key policy of the stack's customer-managed KMS key, as plain values (the docs render it too)."""

from __future__ import annotations

from typing import Any

# CloudWatch Logs' own list ("Encrypt log data in CloudWatch Logs using AWS KMS").
LOGS_SERVICE_ACTIONS = (
    "kms:Encrypt*",
    "kms:Decrypt*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:Describe*",
)
ALARM_TOPIC_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")
DEAD_LETTER_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


def key_policy_statements(*, account_id: str, region: str, name_prefix: str) -> list[dict[str, Any]]:
    """Who may use the key: IAM policies of the account, and the AWS services that write for the stack.

    Workers are not named here: the account statement lets their roles' own (least-privilege) IAM
    policies grant them the key, and so does the DynamoDB-to-Kinesis service-linked role's managed
    policy (kms:GenerateDataKey via Kinesis) for the table's change stream.
    """
    return [
        {
            # AWS's default "Enable IAM policies" statement. Without it the key is unmanageable
            # (lockout): only AWS Support could restore access.
            "Sid": "EnableIamPolicies",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            # Log groups under the key: CloudWatch Logs of this region encrypts and decrypts their
            # events, for log groups of this account only (the encryption context names the group).
            "Sid": "CloudWatchLogsEncryptsLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": list(LOGS_SERVICE_ACTIONS),
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account_id}:log-group:*"
                }
            },
        },
        {
            # The alarm topic under the key: CloudWatch alarms of this account publish to it.
            "Sid": "CloudWatchAlarmsPublishToAlarmTopic",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": list(ALARM_TOPIC_ACTIONS),
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
        {
            # Schedule dead-letter queues under the key: EventBridge rules of this stack send to them.
            "Sid": "EventBridgeSendsToDeadLetterQueues",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": list(DEAD_LETTER_ACTIONS),
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": f"arn:aws:events:{region}:{account_id}:rule/{name_prefix}-*"},
            },
        },
    ]


def key_policy(*, account_id: str, region: str, name_prefix: str) -> dict[str, Any]:
    """The whole key policy document."""
    return {
        "Version": "2012-10-17",
        "Statement": key_policy_statements(account_id=account_id, region=region, name_prefix=name_prefix),
    }
