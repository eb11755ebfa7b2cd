"""Composition root of the fleet: validated stack config, platform, one Worker per catalog entry."""

import gc
from pathlib import Path

import pulumi

from infra.artifacts import build_artifacts
from infra.catalog import CATALOG
from infra.config import stack_from_pulumi
from infra.dashboard import FleetDashboard, fleet_dashboard_args
from infra.platform import Platform, PlatformArgs
from infra.worker import Worker, WorkerArgs

# What the imports above loaded (the SDKs: ~260,000 objects) lives as long as the program: keep it off
# the collector's full passes, which the program's many short-lived outputs trigger (as the offline
# synth does, infra/synth/program_run.py).
gc.freeze()

stack = stack_from_pulumi()
artifacts = build_artifacts(stack, CATALOG, Path(__file__).parent)
platform = Platform("platform", PlatformArgs(stack=stack, layers=artifacts.layers))
workers = [
    Worker(
        spec.name,
        WorkerArgs(
            spec=spec,
            config=stack.workers[spec.name],
            stack=stack,
            refs=platform.refs,
            code=artifacts.code[spec.name],
        ),
    )
    for spec in CATALOG
]
FleetDashboard("fleet", fleet_dashboard_args(stack, CATALOG, platform.refs))

pulumi.export("table_name", platform.table.table.name)
pulumi.export("table_stream_arn", platform.table.stream.arn)
pulumi.export("alarm_topic_arn", platform.alarm_topic.topic.arn)
pulumi.export("graphql_api_url", platform.api.api.uris)
pulumi.export("functions", {worker.function_name: worker.alias.arn for worker in workers})
