"""Benchmark program: the real components composing a generated fleet of N workers (DMD_BENCH_WORKERS)."""

import os
from dataclasses import replace
from pathlib import Path

import pulumi

from infra.artifacts import build_artifacts
from infra.catalog import CATALOG, WorkerSpec
from infra.config import load_stack_config, stack_values
from infra.dashboard import FleetDashboard, fleet_dashboard_args
from infra.platform import Platform, PlatformArgs
from infra.worker import Worker, WorkerArgs

count = int(os.environ.get("DMD_BENCH_WORKERS", "200"))
# Replica i of catalog entry i % len(CATALOG) keeps that entry's trigger, access, config overrides and code.
bases = {f"{CATALOG[i % len(CATALOG)].name}_{i:03d}": CATALOG[i % len(CATALOG)] for i in range(count)}
fleet: tuple[WorkerSpec, ...] = tuple(
    replace(base, name=name, inventory_code=f"{base.inventory_code}-{name[-3:]}")
    for name, base in bases.items()
)
values = stack_values(pulumi.Config(), pulumi.Config("aws"))
overrides = values.get("workers", {})
values["workers"] = {spec.name: overrides.get(bases[spec.name].name, {}) for spec in fleet}
# An account running this many workers has its Lambda concurrency quota raised to fit their reservations
# (at most 100 each) plus the unreserved minimum; the committed quota is sized for the real fleet.
platform_values = values.setdefault("platform", {})
alarm_topic = platform_values.setdefault("alarmTopic", {})
alarm_topic["accountConcurrencyLimit"] = max(
    alarm_topic.get("accountConcurrencyLimit", 1000), 100 * count + 100
)
stack = load_stack_config(pulumi.get_stack(), values, catalog=fleet)
artifacts = build_artifacts(stack, CATALOG, Path(__file__).resolve().parents[1])
platform = Platform("platform", PlatformArgs(stack=stack, layers=artifacts.layers))
for spec in fleet:
    Worker(
        spec.name,
        WorkerArgs(
            spec=spec,
            config=stack.workers[spec.name],
            stack=stack,
            refs=platform.refs,
            code=artifacts.code[bases[spec.name].name],
        ),
    )
FleetDashboard("fleet", fleet_dashboard_args(stack, fleet, platform.refs))
