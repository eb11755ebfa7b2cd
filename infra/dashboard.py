"""The fleet in the CloudWatch console: one dashboard, and the runbook's saved Logs Insights queries."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.catalog import StreamSource, WorkerSpec
from infra.config import StackConfig
from infra.log_queries import LOG_QUERIES, log_groups_for
from infra.naming import Naming, log_group_name
from infra.platform import PlatformRefs

COMPONENT_TYPE = "dmd:platform:FleetDashboard"


@dataclass(frozen=True, kw_only=True)
class DashboardArgs:
    """Which functions, queues and table the dashboard shows, and the log groups the saved queries read."""

    naming: Naming
    function_names: Sequence[str]
    log_groups: Sequence[tuple[str, str]]  # (worker, its log group), in catalog order
    stream_function_names: Sequence[str]
    queue_names: Sequence[str]
    dead_letter_queue_names: Sequence[str]
    table_name: str


def dashboard_body(args: DashboardArgs) -> str:
    """Dashboard JSON: per-worker invocations, errors, duration, iterator age; queues; table."""

    def per_function(metric: str, names: Sequence[str]) -> list[list[object]]:
        return [["AWS/Lambda", metric, "FunctionName", name] for name in names]

    def per_queue(names: Sequence[str]) -> list[list[object]]:
        return [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", name] for name in names]

    panels: list[tuple[str, list[list[object]], str]] = [
        ("Invocations", per_function("Invocations", args.function_names), "Sum"),
        ("Errors", per_function("Errors", args.function_names), "Sum"),
        ("Duration p90", per_function("Duration", args.function_names), "p90"),
        ("Throttles", per_function("Throttles", args.function_names), "Sum"),
        ("Iterator age (stream workers)", per_function("IteratorAge", args.stream_function_names), "Maximum"),
        ("Queue depth", per_queue(args.queue_names), "Maximum"),
        ("Dead-letter queues", per_queue(args.dead_letter_queue_names), "Maximum"),
        (
            "Demand table",
            [
                ["AWS/DynamoDB", metric, "TableName", args.table_name]
                for metric in (
                    "ConsumedWriteCapacityUnits",
                    "ConsumedReadCapacityUnits",
                    "WriteThrottleEvents",
                )
            ],
            "Sum",
        ),
    ]
    widgets = [
        {
            "type": "metric",
            "x": (index % 2) * 12,
            "y": (index // 2) * 6,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "metrics": metrics,
                "region": args.naming.region,
                "stat": stat,
                "period": 60,
            },
        }
        for index, (title, metrics, stat) in enumerate(panels)
    ]
    return json.dumps({"widgets": widgets}, sort_keys=True)


class FleetDashboard(pulumi.ComponentResource):
    """The fleet at a glance: the dashboard, and one saved query per runbook preset (`dmd logs query`)."""

    dashboard: aws.cloudwatch.Dashboard
    queries: list[aws.cloudwatch.QueryDefinition]

    def __init__(self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.naming.dashboard_name,
            dashboard_body=dashboard_body(args),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Named `dmd-workers/<env>/<preset>`: the console files them in a folder per stack.
        self.queries = [
            aws.cloudwatch.QueryDefinition(
                f"{name}-query-{query.preset}",
                name=query.saved_name(args.naming.environment),
                query_string=query.console_text,
                log_group_names=log_groups_for(query, args.log_groups),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for query in LOG_QUERIES
        ]
        self.register_outputs({"dashboard_name": self.dashboard.dashboard_name})


def fleet_dashboard_args(
    stack: StackConfig, catalog: Sequence[WorkerSpec], refs: PlatformRefs
) -> DashboardArgs:
    """Dashboard contents derived from the catalog and the platform."""
    naming = Naming(environment=stack.environment, region=stack.region)
    queues = list(refs.queues.values())
    return DashboardArgs(
        naming=naming,
        function_names=[naming.function_name(spec.inventory_code) for spec in catalog],
        log_groups=[
            (spec.name, log_group_name(naming.function_name(spec.inventory_code))) for spec in catalog
        ],
        stream_function_names=[
            naming.function_name(spec.inventory_code)
            for spec in catalog
            if isinstance(spec.source, StreamSource)
        ],
        queue_names=[queue.name for queue in queues],
        dead_letter_queue_names=[queue.dead_letter_queue_name for queue in queues],
        table_name=refs.table_name,
    )
