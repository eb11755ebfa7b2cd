"""The aws check's reads of AWS: an absent resource is None, any other refusal stops the check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from aws_clients import AwsClients
from ops.aws_check import AwsReadError, DeployedState

REGION = "us-east-1"

READS: dict[str, Callable[[DeployedState], Any]] = {
    "function": lambda state: state.function("fn"),
    "alias": lambda state: state.alias("fn", "live"),
    "log group": lambda state: state.log_group("/aws/lambda/fn"),
    "alarm": lambda state: state.alarm("fn-errors"),
    "queue": lambda state: state.queue_attributes("jobs"),
    "table": lambda state: state.table("demand"),
    "time to live": lambda state: state.time_to_live("demand"),
    "stream": lambda state: state.stream("changes"),
    "continuous backups": lambda state: state.continuous_backups("demand"),
    "rule": lambda state: state.rule("every-minute"),
    "reserved concurrency": lambda state: state.reserved_concurrency("fn"),
}


@pytest.fixture
def empty_account() -> Iterator[DeployedState]:
    """A DeployedState reading an in-process moto account that holds nothing."""
    with mock_aws():
        yield DeployedState(AwsClients.for_emulator(None, region=REGION))


@pytest.mark.parametrize("read", list(READS.values()), ids=list(READS))
def test_a_resource_that_does_not_exist_reads_as_none(
    empty_account: DeployedState, read: Callable[[DeployedState], Any]
) -> None:
    # Given an account without the resource
    # When it is read
    # Then the answer is None (a MISSING finding), not an error
    assert read(empty_account) is None


def test_listings_of_an_absent_function_or_log_group_are_empty(empty_account: DeployedState) -> None:
    # Given an account without the function and its log group
    # When its versions, the mappings on its alias and the group's subscription filters are listed
    # Then the lists are empty
    assert empty_account.published_versions("fn") == []
    assert empty_account.subscription_filters("/aws/lambda/fn", "fn-to-central-logs") == []
    assert empty_account.event_source_mappings(f"arn:aws:lambda:{REGION}:123456789012:function:fn:live") == []


def test_alarms_loaded_in_a_batch_answer_from_memory(empty_account: DeployedState) -> None:
    # Given one alarm in the account
    cloudwatch = AwsClients.for_emulator(None, region=REGION).client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="fn-errors",
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )

    # When it and an absent one are loaded together, and the alarm is then deleted
    empty_account.load_alarms(["fn-errors", "fn-throttles"])
    cloudwatch.delete_alarms(AlarmNames=["fn-errors"])

    # Then both answers come from the batch read
    alarm = empty_account.alarm("fn-errors")
    assert alarm is not None and alarm["Threshold"] == 1.0
    assert empty_account.alarm("fn-throttles") is None


@pytest.mark.parametrize(
    ("read", "operation"),
    [
        (READS["table"], "dynamodb describe_table"),
        (READS["log group"], "logs describe_log_groups"),
    ],
    ids=["single read", "paginated read"],
)
def test_a_refused_read_stops_the_check_naming_service_operation_and_code(
    read: Callable[[DeployedState], Any], operation: str
) -> None:
    # Given credentials AWS does not accept (moto enforcing IAM from the first call)
    @set_initial_no_auth_action_count(0)
    def read_with_refused_credentials() -> None:
        with mock_aws():
            read(DeployedState(AwsClients.for_emulator(None, region=REGION)))

    # When a resource is read
    with pytest.raises(AwsReadError) as raised:
        read_with_refused_credentials()

    # Then the check cannot conclude, and the error says which read was refused and how
    assert str(raised.value).startswith(operation)
    assert "InvalidClientTokenId" in str(raised.value)


def test_subscription_filters_of_a_group_are_read_by_name_prefix(empty_account: DeployedState) -> None:
    # Given a log group with a subscription filter to a stream
    clients = AwsClients.for_emulator(None, region=REGION)
    clients.client("logs").create_log_group(logGroupName="/aws/lambda/fn")
    stream = clients.client("kinesis")
    stream.create_stream(StreamName="central-logs", ShardCount=1)
    arn = stream.describe_stream_summary(StreamName="central-logs")["StreamDescriptionSummary"]["StreamARN"]
    clients.client("logs").put_subscription_filter(
        logGroupName="/aws/lambda/fn",
        filterName="fn-to-central-logs",
        filterPattern="",
        destinationArn=arn,
        roleArn="arn:aws:iam::123456789012:role/fn-logs",
    )

    # When the filters are read by the declared name
    filters = empty_account.subscription_filters("/aws/lambda/fn", "fn-to-central-logs")

    # Then the one filter is there with its destination
    assert [(item["filterName"], item["destinationArn"]) for item in filters] == [("fn-to-central-logs", arn)]


ACCOUNT_SETTINGS = {
    "AccountLimit": {
        "TotalCodeSize": 80530636800,
        "CodeSizeUnzipped": 262144000,
        "CodeSizeZipped": 52428800,
        "ConcurrentExecutions": 1000,
        "UnreservedConcurrentExecutions": 875,
    },
    "AccountUsage": {"TotalCodeSize": 1048576, "FunctionCount": 9},
}


def test_account_settings_are_read_from_lambda() -> None:
    # Given Lambda answering GetAccountSettings (stubbed: moto 5.2.5 does not implement it)
    clients = AwsClients.for_emulator(None, region=REGION)
    with Stubber(clients.client("lambda")) as stubber:
        stubber.add_response("get_account_settings", ACCOUNT_SETTINGS, {})
        # When the account's settings are read
        settings = DeployedState(clients).account_settings()
        stubber.assert_no_pending_responses()
    # Then the quota and the unreserved pool are AWS's answer
    assert settings is not None
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 875


def test_account_settings_of_an_emulator_without_them_read_as_none(empty_account: DeployedState) -> None:
    # Given moto, which answers GetAccountSettings with 404 "Not yet implemented"
    # When read; Then the answer is None (the findings are SKIPPED), not an error
    assert empty_account.account_settings() is None


def test_account_settings_refused_stop_the_check() -> None:
    # Given credentials without lambda:GetAccountSettings
    clients = AwsClients.for_emulator(None, region=REGION)
    with Stubber(clients.client("lambda")) as stubber:
        stubber.add_client_error("get_account_settings", "AccessDeniedException", http_status_code=403)
        # When read; Then the check cannot conclude, naming the call and the code
        with pytest.raises(AwsReadError, match="lambda get_account_settings: AccessDeniedException"):
            DeployedState(clients).account_settings()
