"""The only place the check reads AWS: each deployed resource as its service's API describes it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from botocore.exceptions import ClientError

from aws_clients import AwsClients

_NOT_FOUND_CODES: Final = frozenset(
    {
        "ResourceNotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "ResourceNotFound",
        "TableNotFoundException",
    }
)
_ALARM_BATCH: Final = 100


class AwsReadError(Exception):
    """AWS refused a read (permissions, throttling, bad endpoint), so the check cannot conclude."""


def _raise_unless_not_found(error: ClientError, service: str, operation: str, kwargs: dict[str, Any]) -> None:
    """A "no such resource" answer is the caller's None or []; any other refusal ends the check."""
    code = error.response.get("Error", {}).get("Code", "")
    if code not in _NOT_FOUND_CODES:
        raise AwsReadError(f"{service} {operation} {kwargs}: {code}: {error}") from error


class DeployedState:
    """Reads deployed resources with cached boto3 clients; `None` means the resource does not exist."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients
        self._alarms: dict[str, dict[str, Any] | None] = {}

    def _read(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any] | None:
        try:
            answer: dict[str, Any] = getattr(self._clients.client(service), operation)(**kwargs)
        except ClientError as error:
            _raise_unless_not_found(error, service, operation, kwargs)
            return None
        return answer

    def _pages(self, service: str, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        try:
            paginator = self._clients.client(service).get_paginator(operation)
            return [item for page in paginator.paginate(**kwargs) for item in page.get(key, [])]
        except ClientError as error:
            _raise_unless_not_found(error, service, operation, kwargs)
            return []

    def account_id(self) -> str:
        """The account the credentials belong to."""
        answer = self._read("sts", "get_caller_identity")
        return str((answer or {}).get("Account", ""))

    def function(self, name: str) -> dict[str, Any] | None:
        """GetFunctionConfiguration, plus `ReservedConcurrentExecutions` when the function reserves some."""
        configuration = self._read("lambda", "get_function_configuration", FunctionName=name)
        if configuration is None:
            return None
        concurrency = self._read("lambda", "get_function_concurrency", FunctionName=name) or {}
        if "ReservedConcurrentExecutions" in concurrency:
            configuration["ReservedConcurrentExecutions"] = concurrency["ReservedConcurrentExecutions"]
        return configuration

    def reserved_concurrency(self, function: str) -> int | None:
        """The function's reserved concurrency; None when it reserves none (or does not exist)."""
        answer = self._read("lambda", "get_function_concurrency", FunctionName=function) or {}
        reserved = answer.get("ReservedConcurrentExecutions")
        return None if reserved is None else int(reserved)

    def account_settings(self) -> dict[str, Any] | None:
        """GetAccountSettings (the region's Lambda quotas); None when the endpoint does not implement it."""
        try:
            answer: dict[str, Any] = self._clients.client("lambda").get_account_settings()
        except ClientError as error:
            # AWS always answers this call; a 404 is an emulator without it (moto: "Not yet implemented").
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return None
            code = error.response.get("Error", {}).get("Code", "")
            raise AwsReadError(f"lambda get_account_settings: {code}: {error}") from error
        return answer

    def alias(self, function: str, name: str) -> dict[str, Any] | None:
        """GetAlias."""
        return self._read("lambda", "get_alias", FunctionName=function, Name=name)

    def published_versions(self, function: str) -> list[str]:
        """Every version of the function (with $LATEST)."""
        versions = self._pages("lambda", "list_versions_by_function", "Versions", FunctionName=function)
        return [str(item["Version"]) for item in versions]

    def event_source_mappings(self, function_arn: str) -> list[dict[str, Any]]:
        """The mappings that invoke exactly this (qualified) function ARN."""
        return self._pages(
            "lambda", "list_event_source_mappings", "EventSourceMappings", FunctionName=function_arn
        )

    def log_group(self, name: str) -> dict[str, Any] | None:
        """The log group with exactly this name."""
        groups = self._pages("logs", "describe_log_groups", "logGroups", logGroupNamePrefix=name)
        return next((group for group in groups if group.get("logGroupName") == name), None)

    def graphql_api_id(self, name: str) -> str | None:
        """The id of the AppSync GraphQL API with exactly this name."""
        apis = self._pages("appsync", "list_graphql_apis", "graphqlApis")
        return next((str(api["apiId"]) for api in apis if api.get("name") == name), None)

    def load_alarms(self, names: Sequence[str]) -> None:
        """Read many metric alarms in batches of 100, so `alarm` answers from memory."""
        for start in range(0, len(names), _ALARM_BATCH):
            batch = list(names[start : start + _ALARM_BATCH])
            found = self._pages("cloudwatch", "describe_alarms", "MetricAlarms", AlarmNames=batch)
            by_name = {alarm["AlarmName"]: alarm for alarm in found}
            self._alarms.update({name: by_name.get(name) for name in batch})

    def alarm(self, name: str) -> dict[str, Any] | None:
        """One metric alarm (from `load_alarms` when it covered the name)."""
        if name not in self._alarms:
            self.load_alarms([name])
        return self._alarms[name]

    def queue_attributes(self, name: str) -> dict[str, Any] | None:
        """All attributes of the queue with this name."""
        located = self._read("sqs", "get_queue_url", QueueName=name)
        if located is None:
            return None
        answer = self._read(
            "sqs", "get_queue_attributes", QueueUrl=located["QueueUrl"], AttributeNames=["All"]
        )
        return None if answer is None else dict(answer.get("Attributes", {}))

    def table(self, name: str) -> dict[str, Any] | None:
        """DescribeTable's `Table`."""
        answer = self._read("dynamodb", "describe_table", TableName=name)
        return None if answer is None else dict(answer["Table"])

    def time_to_live(self, name: str) -> dict[str, Any] | None:
        """DescribeTimeToLive's `TimeToLiveDescription`."""
        answer = self._read("dynamodb", "describe_time_to_live", TableName=name)
        return None if answer is None else dict(answer.get("TimeToLiveDescription", {}))

    def continuous_backups(self, table: str) -> dict[str, Any] | None:
        """DescribeContinuousBackups' `ContinuousBackupsDescription` (point-in-time recovery)."""
        answer = self._read("dynamodb", "describe_continuous_backups", TableName=table)
        return None if answer is None else dict(answer.get("ContinuousBackupsDescription", {}))

    def rule(self, name: str) -> dict[str, Any] | None:
        """DescribeRule on the default event bus."""
        return self._read("events", "describe_rule", Name=name)

    def subscription_filters(self, log_group: str, name: str) -> list[dict[str, Any]]:
        """The log group's subscription filters whose names start with `name` (none: no such group)."""
        return self._pages(
            "logs",
            "describe_subscription_filters",
            "subscriptionFilters",
            logGroupName=log_group,
            filterNamePrefix=name,
        )

    def stream(self, name: str) -> dict[str, Any] | None:
        """DescribeStreamSummary's `StreamDescriptionSummary`."""
        answer = self._read("kinesis", "describe_stream_summary", StreamName=name)
        return None if answer is None else dict(answer["StreamDescriptionSummary"])
