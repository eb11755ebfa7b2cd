"""Each worker's Lambda function and live alias: identity, sizing, logs, environment, VPC, ordering."""

from __future__ import annotations

import re
from typing import Any

import pytest

from infra.catalog import CATALOG, Access, WorkerSpec
from tests.infra.graphs import only
from tests.infra.program.resource_types import FUNCTION, LAYER, LOG_GROUP, WORKER
from tests.infra.program.stack_under_test import SPECS, STREAM_WORKERS, VENDOR_ACCESS, Stack, fleet, up_stack

OTEL_SERVICE_NAME = "vf.dmnd.workers"
TABLE_ACCESS = frozenset({Access.TABLE_READ, Access.TABLE_WRITE, Access.TABLE_UPDATE})


def test_the_fleet_is_one_worker_component_per_catalog_entry(stack: Stack) -> None:
    # Given the catalog
    # When the stack is synthesized
    workers = stack.graph.of_type(WORKER)
    functions = stack.graph.of_type(FUNCTION)

    # Then there is exactly one Worker per entry, named after it, each holding exactly one function
    assert sorted(worker.name for worker in workers) == sorted(SPECS)
    assert all(worker.parent is None and not worker.custom for worker in workers)
    assert len(functions) == len(CATALOG)
    assert sorted((function.parent, function.name) for function in functions) == sorted(
        (name, f"{name}-function") for name in SPECS
    )


def test_function_identity_runtime_and_layer(stack: Stack) -> None:
    # Given the catalog and the platform's dependency layer
    layer = only(stack.graph.children_of("platform"), LAYER)
    layer_arn = stack.arn("lambda", f"layer:{layer.inputs['layerName']}:1")
    keys = ("name", "runtime", "architectures", "handler", "publish", "role", "description", "code", "layers")

    # When each worker's function is declared
    functions = fleet(lambda spec: stack.child(spec, "function"))

    # Then it is named by convention, runs python3.12 on arm64 from its own handler, published,
    # with its own role and the platform's layer
    assert fleet(lambda spec: {key: functions[spec.name].inputs.get(key) for key in keys}) == fleet(
        lambda spec: {
            "name": f"prd3292-{stack.environment}-us-east-1-{spec.inventory_code}",
            "runtime": "python3.12",
            "architectures": ["arm64"],
            "handler": f"workers.{spec.name}.handler.lambda_handler",
            "publish": True,
            "role": stack.role_arn(stack.function_name(spec)),
            "description": spec.description,
            "code": {"fileArchive": f"build/code/{spec.name}.zip"},
            "layers": [layer_arn],
        }
    )
    assert {stack.worker(spec).architecture for spec in CATALOG} == {"arm64"}
    assert layer.name == "platform-deps-layer-arm64"
    assert all(layer.name in function.options["dependencies"] for function in functions.values())


def test_function_sizing_is_the_resolved_config(stack: Stack) -> None:
    # Given each worker's resolved settings (defaults merged with its overrides)
    expected = fleet(
        lambda spec: (
            stack.worker(spec).memory_mb,
            stack.worker(spec).timeout_seconds,
            stack.worker(spec).reserved_concurrency,
        )
    )

    # When the functions are declared
    inputs = fleet(lambda spec: stack.child(spec, "function").inputs)

    # Then memory, timeout and reserved concurrency are the resolved values
    assert {
        name: (value["memorySize"], value["timeout"], value["reservedConcurrentExecutions"])
        for name, value in inputs.items()
    } == expected


def test_snap_start_is_on_exactly_for_the_workers_that_ask_for_it(stack: Stack) -> None:
    # Given each worker's resolved snapStart setting
    expected = fleet(lambda spec: {"applyOn": "PublishedVersions"} if stack.worker(spec).snap_start else None)

    # When the functions are declared
    declared = fleet(lambda spec: stack.child(spec, "function").inputs.get("snapStart"))

    # Then SnapStart applies to published versions (what the live alias points at) only where asked
    assert declared == expected


def test_prod1_restores_the_fan_facing_resolver_from_a_snapshot() -> None:
    # Given prod1 turns SnapStart on for event_details only
    functions = {spec.name: up_stack("prod1").child(spec, "function").inputs for spec in SPECS.values()}

    # Then exactly that function has it
    assert {name for name, inputs in functions.items() if inputs.get("snapStart")} == {"event_details"}


SIZING_SPOT_CHECKS = {
    # stack -> worker -> (memorySize, timeout, reservedConcurrentExecutions), read off the YAML
    "prod1": {
        "notification_send": (2048, 60, 100),
        "notification_generator": (3008, 900, 20),
        "notification_scheduler": (1024, 300, 1),
        "demand_stream_to_sqs": (512, 60, -1),
        "event_details": (1536, 15, -1),
        "notification_sweeper": (512, 55, -1),
    },
    "qa1": {
        "notification_send": (1024, 60, 20),
        "notification_generator": (2048, 900, 10),
        "sms_status_consumer": (512, 60, -1),
    },
    "local": {
        "notification_send": (512, 30, -1),
        "notification_scheduler": (512, 120, -1),
        "notification_generator": (512, 300, -1),
        "notification_sweeper": (512, 30, -1),
    },
}


@pytest.mark.parametrize(
    ("stack_name", "worker", "expected"),
    [
        (stack_name, worker, expected)
        for stack_name, workers in SIZING_SPOT_CHECKS.items()
        for worker, expected in workers.items()
    ],
)
def test_function_sizing_spot_checks_against_the_stack_file(
    stack_name: str, worker: str, expected: tuple[int, int, int]
) -> None:
    # Given a value written in Pulumi.<stack>.yaml (or its defaults block)
    # When the stack is synthesized
    inputs = up_stack(stack_name).child(SPECS[worker], "function").inputs

    # Then the function carries exactly that value (a broken defaults/override merge fails here)
    assert (inputs["memorySize"], inputs["timeout"], inputs["reservedConcurrentExecutions"]) == expected


def test_function_logs_json_to_its_own_log_group_with_retention(stack: Stack) -> None:
    # Given each worker's log settings
    def expected(spec: WorkerSpec) -> dict[str, Any]:
        config = stack.worker(spec)
        return {
            "loggingConfig": {
                "logFormat": "JSON",
                "logGroup": stack.log_group_name(spec),
                "applicationLogLevel": {"WARNING": "WARN"}.get(config.log_level, config.log_level),
                "systemLogLevel": "INFO",
            },
            "logGroup": {
                "name": f"/aws/lambda/{stack.function_name(spec)}",
                "retentionInDays": config.log_retention_days,
            },
        }

    # When the functions and their log groups are declared
    def declared(spec: WorkerSpec) -> dict[str, Any]:
        log_group = stack.child(spec, "logs").inputs
        return {
            "loggingConfig": stack.child(spec, "function").inputs["loggingConfig"],
            "logGroup": {key: log_group[key] for key in ("name", "retentionInDays")},
        }

    # Then each function logs JSON into /aws/lambda/<function>, kept for the configured days
    assert fleet(declared) == fleet(expected)


@pytest.mark.parametrize(("stack_name", "retention"), [("prod1", 30), ("qa1", 7), ("local", 1)])
def test_log_retention_spot_checks_against_the_stack_file(stack_name: str, retention: int) -> None:
    # Given defaults.logRetentionDays in the stack file
    # When the stack is synthesized
    log_groups = [group for group in up_stack(stack_name).graph.of_type(LOG_GROUP) if group.parent in SPECS]

    # Then every worker's log group keeps logs that long
    assert [group.inputs["retentionInDays"] for group in log_groups] == [retention] * len(CATALOG)


def test_function_environment_carries_identity_telemetry_access_and_tunables(stack: Stack) -> None:
    # Given each worker's catalog entry and resolved config
    endpoint = stack.config.observability.otel_collector_endpoint

    def expected(spec: WorkerSpec) -> dict[str, str | None]:
        return {
            "POWERTOOLS_SERVICE_NAME": spec.name,
            "OTEL_SERVICE_NAME": OTEL_SERVICE_NAME,
            "DMD_ENVIRONMENT": stack.environment,
            "OTEL_EXPORTER_OTLP_ENDPOINT": None if endpoint is None else endpoint.rstrip("/"),
            "DEMAND_TABLE_NAME": stack.table_name() if spec.access & TABLE_ACCESS else None,
            **stack.worker(spec).tunables,
        }

    # When the functions are declared
    variables = fleet(stack.environment_variables)

    # Then each environment names the service, the collector (when configured), the table (table
    # workers only) and the worker's own tunables
    assert fleet(lambda spec: {key: variables[spec.name].get(key) for key in expected(spec)}) == fleet(
        expected
    )
    assert stack.worker(SPECS["notification_scheduler"]).tunables.keys() >= {"LEAD_MINUTES", "WINDOW_MINUTES"}


def test_function_environment_spot_checks_against_the_stack_file() -> None:
    # Given prod1's observability endpoint and the scheduler's settings block
    prod1 = up_stack("prod1")

    # When the stack is synthesized
    scheduler = prod1.environment_variables(SPECS["notification_scheduler"])
    forwarder = prod1.environment_variables(SPECS["demand_stream_to_sqs"])

    # Then the literal values reach the function
    assert scheduler["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel.prod.use1.prod-tmaws.io:4318"
    assert (scheduler["LEAD_MINUTES"], scheduler["WINDOW_MINUTES"], scheduler["EVENT_FETCH_PARALLELISM"]) == (
        "30",
        "30",
        "16",
    )
    assert scheduler["DEMAND_TABLE_NAME"] == "prd3292-prod1-us-east-1-demand-table"
    assert "DEMAND_TABLE_NAME" not in forwarder
    assert forwarder["SHORT_URL_QUEUE_URL"] == (
        "https://sqs.us-east-1.amazonaws.com/210987654321/prd3292-prod1-us-east-1-event-short-url"
    )


def test_function_environment_holds_secret_arns_never_secret_values(stack: Stack) -> None:
    # Given the vendor secrets each worker may read
    secret_arn = re.compile(
        rf"arn:aws:secretsmanager:{stack.config.region}:{stack.config.account_id}:secret:"
        rf"{re.escape(stack.prefix)}/(?P<secret>[a-z-]+)-[A-Za-z]{{6}}"
    )

    def expected(spec: WorkerSpec) -> dict[str, str]:
        return {
            f"{variable}_SECRET_ARN": secret
            for access, (secret, variable) in VENDOR_ACCESS.items()
            if access in spec.access
        }

    # When the secret-related variables are read
    def declared(spec: WorkerSpec) -> dict[str, str | None]:
        found = {
            key: secret_arn.fullmatch(value)
            for key, value in stack.environment_variables(spec).items()
            if "SECRET" in key
        }
        return {key: match["secret"] if match else None for key, match in found.items()}

    # Then each is the ARN of that vendor's secret, one per vendor access, and nothing else names a secret
    assert fleet(declared) == fleet(expected)


def test_function_runs_in_the_stack_vpc(stack: Stack) -> None:
    # Given the stack's VPC placement (none for the local emulator)
    vpc = stack.config.platform.vpc
    placement = (
        None
        if vpc is None
        else {"subnetIds": list(vpc.subnet_ids), "securityGroupIds": list(vpc.security_group_ids)}
    )

    # When the functions are declared
    declared = fleet(lambda spec: stack.child(spec, "function").inputs.get("vpcConfig"))

    # Then each is placed in exactly those subnets and security groups
    assert declared == fleet(lambda spec: placement)


def test_vpc_spot_checks_against_the_stack_file() -> None:
    # Given prod1's three subnets and one security group, and local without a VPC
    # When both stacks are synthesized
    prod1 = up_stack("prod1").child(SPECS["notification_send"], "function").inputs
    local = up_stack("local").child(SPECS["notification_send"], "function").inputs

    # Then prod1's function is in them and local's has no VPC
    assert prod1["vpcConfig"]["subnetIds"] == [
        "subnet-0f1e2d3c4b5a60001",
        "subnet-0f1e2d3c4b5a60002",
        "subnet-0f1e2d3c4b5a60003",
    ]
    assert prod1["vpcConfig"]["securityGroupIds"] == ["sg-0f1e2d3c4b5a60001"]
    assert local.get("vpcConfig") is None


def test_function_waits_for_its_log_group_and_role_policy(stack: Stack) -> None:
    # Given Lambda auto-creates a retention-less log group, and an unattached role fails the first poll
    # When the functions are declared
    depends_on = fleet(lambda spec: stack.child(spec, "function").options["depends_on"])

    # Then each depends on its own log group and role policy
    assert depends_on == fleet(lambda spec: sorted([f"{spec.name}-logs", f"{spec.name}-policy"]))


def test_live_alias_starts_at_the_first_published_version_and_is_left_to_the_release_step(
    stack: Stack,
) -> None:
    # Given each function publishes a version on each change, and `dmd release` moves `live`
    # When the aliases are declared
    def declared(spec: WorkerSpec) -> dict[str, Any]:
        alias = stack.child(spec, "alias")
        return {
            "name": alias.inputs["name"],
            "functionName": alias.inputs["functionName"],
            "functionVersion": alias.inputs["functionVersion"],
            "description": alias.inputs["description"],
            "created after the function": f"{spec.name}-function" in alias.options["dependencies"],
            # What the engine receives on the wire (RegisterResource's ignoreChanges), not the mock's args
            "ignore_changes": alias.options["ignore_changes"],
            "publishes": stack.child(spec, "function").inputs["publish"],
            "exported": stack.graph.outputs["functions"].get(stack.function_name(spec)),
        }

    # Then `live` is created at the function's published version, a `pulumi up` never moves its
    # version or its weighted routing afterwards (the release step owns both), every change still
    # publishes a version, and the alias's ARN is what the stack exports
    assert fleet(declared) == fleet(
        lambda spec: {
            "name": "live",
            "functionName": stack.function_name(spec),
            "functionVersion": "1",  # the mocks' first published version
            "description": "What triggers invoke; moved between published versions by `dmd release`",
            "created after the function": True,
            "ignore_changes": ["functionVersion", "routingConfig"],
            "publishes": True,
            "exported": stack.alias_arn(spec),
        }
    )


def test_no_other_resource_ignores_changes(stack: Stack) -> None:
    # Given ignore_changes hides drift from `pulumi up`
    # When the whole graph is declared
    ignoring = {
        resource.name: resource.options["ignore_changes"]
        for resource in stack.graph.resources
        if resource.options.get("ignore_changes")
    }
    # Then only the `live` aliases use it (the release step's inputs), nothing else
    assert ignoring == {f"{spec.name}-alias": ["functionVersion", "routingConfig"] for spec in CATALOG}


def test_workers_park_poison_records_in_their_own_dead_letter_queue(stack: Stack) -> None:
    # Given the stream workers, whose role may send to their on-failure queue only (test_program_iam),
    # and the generator, which parks malformed demand items in its queue's DLQ (GENERATION_DLQ_PARK)
    streams = {spec.name for spec in STREAM_WORKERS}
    parkers = streams | {spec.name for spec in SPECS.values() if Access.GENERATION_DLQ_PARK in spec.access}
    assert "notification_generator" in parkers

    def expected(spec: WorkerSpec) -> str | None:
        if spec.name in streams:
            name = f"{stack.function_name(spec)}-on-failure"
        elif spec.name in parkers:
            name = f"{stack.work_queue_name('generation')}-dlq"
        else:
            return None
        return f"https://sqs.{stack.config.region}.amazonaws.com/{stack.config.account_id}/{name}"

    # When the functions are declared
    def parking_queue(spec: WorkerSpec) -> str | None:
        return stack.environment_variables(spec).get("PARKING_QUEUE_URL")

    # Then each of them names exactly that queue for parking, and no other worker names one
    if stack.mode == "up":
        assert fleet(parking_queue) == fleet(expected)
    else:  # preview: the queue's URL is not known yet, but the variable is declared
        assert {name for name, url in fleet(parking_queue).items() if url is not None} <= parkers
