"""The policy pack's rules over single resources and whole stacks, exceptions included."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policy.rules import (
    EXCEPTIONS,
    FUNCTION,
    GRAPHQL_API,
    KEY,
    LOG_GROUP,
    PREVIEW_UNKNOWNS,
    QUEUE,
    RESOURCE_RULES,
    ROLE_POLICY,
    STREAM,
    TABLE,
    WEB_ACL,
    WEB_ACL_ASSOCIATION,
    WEB_ACL_LOGGING,
    Resource,
    resource_findings,
    scan,
)

KEY_ARN = "arn:aws:kms:us-east-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"
UNKNOWN = next(iter(sorted(PREVIEW_UNKNOWNS)))


def rules_broken(type_: str, props: dict[str, Any]) -> set[str]:
    return {finding.rule for finding in resource_findings(Resource(type_, "r", props))}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_a_table_under_a_customer_key_with_pitr_passes_and_one_under_the_aws_key_fails() -> None:
    # Given a table under the stack's key and one under DynamoDB's own key
    good = {
        "serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY_ARN},
        "pointInTimeRecovery": {"enabled": True},
    }
    bad = {"serverSideEncryption": {"enabled": True}, "pointInTimeRecovery": {"enabled": False}}

    # Then only the second breaks the key and recovery rules
    assert rules_broken(TABLE, good) == set()
    assert rules_broken(TABLE, bad) == {"dynamodb-cmk", "dynamodb-pitr"}


def test_a_stream_under_the_aws_managed_kinesis_key_fails_and_under_a_key_arn_passes() -> None:
    # Given streams under the AWS-managed alias, unencrypted, and under the stack's key
    # Then only the last passes
    assert rules_broken(STREAM, {"encryptionType": "KMS", "kmsKeyId": "alias/aws/kinesis"}) == {"kinesis-cmk"}
    assert rules_broken(STREAM, {"encryptionType": "NONE"}) == {"kinesis-cmk"}
    assert rules_broken(STREAM, {"encryptionType": "KMS", "kmsKeyId": KEY_ARN}) == set()


def test_a_value_unknown_during_preview_counts_as_set() -> None:
    # Given inputs whose key ARN is not known before the key exists (pulumi preview)
    table = {
        "serverSideEncryption": {"enabled": True, "kmsKeyArn": UNKNOWN},
        "pointInTimeRecovery": {"enabled": True},
    }
    role_policy = {"policy": UNKNOWN}

    # Then no rule reports them: `pulumi up` checks the known values
    assert rules_broken(TABLE, table) == set()
    assert rules_broken(ROLE_POLICY, role_policy) == set()


def test_log_groups_need_a_key_and_a_retention() -> None:
    # Given a log group without either, and one with both
    # Then the first breaks both rules, the second only the one-year rule (an exception)
    assert rules_broken(LOG_GROUP, {}) == {"log-group-cmk", "log-group-retention"}
    assert rules_broken(LOG_GROUP, {"kmsKeyId": KEY_ARN, "retentionInDays": 30}) == {
        "log-group-retention-one-year"
    }
    assert rules_broken(LOG_GROUP, {"kmsKeyId": KEY_ARN, "retentionInDays": 400}) == set()


def test_a_key_without_rotation_or_open_to_anyone_fails() -> None:
    # Given a key policy that lets any principal in without a condition
    open_policy = policy(
        {"Sid": "Anyone", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}
    )
    conditioned = policy(
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": "210987654321"}},
        }
    )

    # Then rotation off and the open statement are both reported; a conditioned one is not
    assert rules_broken(KEY, {"policy": open_policy}) == {"kms-rotation", "kms-no-public-principal"}
    assert rules_broken(KEY, {"policy": conditioned, "enableKeyRotation": True}) == set()


@pytest.mark.parametrize(
    ("statement", "broken"),
    [
        (
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:::table/t"},
            {"iam-no-wildcard-action"},
        ),
        (
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"iam-no-wildcard-action", "iam-no-wildcard-resource"},
        ),
        ({"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"}, {"iam-no-wildcard-resource"}),
        (
            {
                "Effect": "Allow",
                "Action": ["cloudwatch:PutMetricData", "ec2:DescribeSubnets"],
                "Resource": "*",
            },
            set(),
        ),
        ({"Effect": "Deny", "Action": "*", "Resource": "*"}, set()),
    ],
)
def test_role_policies_grant_no_wildcards_except_for_unscopable_actions(
    statement: dict[str, Any], broken: set[str]
) -> None:
    # Given a role policy with one statement
    # Then the wildcard rules report exactly what it opens up
    assert rules_broken(ROLE_POLICY, {"policy": policy(statement)}) == broken


def test_an_api_without_a_waf_association_fails_the_stack_rule() -> None:
    # Given a stack with an API and a web ACL that is neither associated nor logged nor guarding bad inputs
    api = Resource(GRAPHQL_API, "api", {"logConfig": {"fieldLogLevel": "ERROR"}})
    acl = Resource(WEB_ACL, "acl", {"rules": [{"name": "common"}]})

    # When scanned alone, then with the association, logging and the known-bad-inputs group
    alone = {(f.rule, f.resource) for f in scan([api, acl]).failures}
    association = Resource(
        WEB_ACL_ASSOCIATION, "assoc", {"resourceArn": "arn:aws:appsync:us-east-1:1:apis/x"}
    )
    logging = Resource(
        WEB_ACL_LOGGING, "log", {"logDestinationConfigs": ["arn:aws:logs:::log-group:aws-waf-logs-x"]}
    )
    guarded = Resource(
        WEB_ACL, "acl", {"rules": [{"statement": {"name": "AWSManagedRulesKnownBadInputsRuleSet"}}]}
    )
    complete = scan([api, guarded, association, logging]).failures

    # Then the first names every missing protection, the second none
    assert alone == {("appsync-waf", "api"), ("waf-known-bad-inputs", "acl"), ("waf-logging", "acl")}
    assert complete == ()


def test_a_queue_without_dead_letters_fails_unless_it_is_someone_s_dead_letter_queue() -> None:
    # Given a work queue redriving to a DLQ, and an orphan queue
    work = Resource(
        QUEUE,
        "work",
        {
            "name": "work",
            "redrivePolicy": json.dumps({"deadLetterTargetArn": "arn:...:work-dlq"}),
            "kmsMasterKeyId": KEY_ARN,
        },
    )
    dlq = Resource(QUEUE, "dlq", {"name": "work-dlq", "kmsMasterKeyId": KEY_ARN})
    orphan = Resource(QUEUE, "orphan", {"name": "orphan", "kmsMasterKeyId": KEY_ARN})

    # When the stack is scanned
    failures = scan([work, dlq, orphan]).failures

    # Then only the orphan is reported
    assert [(f.rule, f.resource) for f in failures] == [("sqs-dead-letters", "orphan")]


def test_a_deliberate_exception_is_reported_as_such_never_dropped() -> None:
    # Given a function without tracing, code signing or a reservation
    function = Resource(
        FUNCTION, "f", {"reservedConcurrentExecutions": -1, "vpcConfig": {"subnetIds": ["s"]}}
    )

    # When scanned
    result = scan([function])

    # Then nothing fails, and every finding is kept with its documented reason
    assert result.failures == ()
    assert {finding.rule for finding, _ in result.excepted} == {
        "lambda-concurrency",
        "lambda-tracing",
        "lambda-code-signing",
        "lambda-dlq",
    }
    assert all(known.reason for _, known in result.excepted)


def test_a_reserved_function_outside_a_vpc_is_not_excused() -> None:
    # Given a function with a reservation but no VPC
    result = scan([Resource(FUNCTION, "f", {"reservedConcurrentExecutions": 5})])

    # Then the VPC rule fails (no exception covers it) and the reservation rule is met
    assert [f.rule for f in result.failures] == ["lambda-vpc"]
    assert "lambda-concurrency" not in {finding.rule for finding, _ in result.excepted}


def test_every_exception_names_a_rule_of_the_pack() -> None:
    # Given the declared exceptions
    # Then each one is about a rule that exists
    assert {known.rule for known in EXCEPTIONS} <= {rule.id for rule in RESOURCE_RULES}
