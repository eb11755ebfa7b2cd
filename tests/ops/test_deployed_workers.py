"""What is deployed of each worker: the version behind `live`, routing, settings, state (against moto)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aws_clients import AwsClients
from infra.stack_files import load_committed
from ops.deployed_workers import DeployedWorker, deployed_worker, deployed_workers
from ops.target import Target
from tests.ops.status_scenario import SEND_FUNCTION, Incident, incident

SWEEPER_FUNCTION = "prd3292-local-us-east-1-ntfcn-swpr"


@pytest.fixture(scope="module")
def canary() -> Iterator[Incident]:
    """The local stack in moto: notification_send reserves 20 and its `live` sends 10% to a new version.

    And the sweeper's `live` alias was deleted by hand.
    """
    with incident() as staged:
        functions = staged.target.clients.client("lambda")
        functions.put_function_concurrency(FunctionName=SEND_FUNCTION, ReservedConcurrentExecutions=20)
        functions.update_function_configuration(FunctionName=SEND_FUNCTION, Description="the canary")
        version = functions.publish_version(FunctionName=SEND_FUNCTION)["Version"]
        functions.update_alias(
            FunctionName=SEND_FUNCTION,
            Name="live",
            RoutingConfig={"AdditionalVersionWeights": {version: 0.1}},
        )
        functions.delete_alias(FunctionName=SWEEPER_FUNCTION, Name="live")
        yield staged


def test_a_deployed_worker_shows_its_live_version_routing_and_settings(canary: Incident) -> None:
    # Given notification_send deployed with 20 reserved and a canary taking 10% of `live`
    worker = canary.target.fleet.worker("notification_send")
    # When what is deployed is read
    deployed = deployed_worker(canary.target, worker)
    # Then every field is as Lambda reports it
    assert deployed.model_dump(exclude={"last_modified"}, by_alias=False) == {
        "worker": "notification_send",
        "function_name": SEND_FUNCTION,
        "deployed": True,
        "live_version": "1",
        "live_routing": {"2": 0.1},
        "newest_version": "2",
        "release_pending": True,  # `live` still shares traffic with version 2
        "memory_mb": 512,
        "timeout_seconds": 30,
        "reserved_concurrency": 20,
        "state": "Active",
        "last_update_status": "Successful",
        "runtime": "python3.12",
        "architectures": ("arm64",),
    }
    assert deployed.last_modified


def test_a_function_without_its_live_alias_reads_no_live_version(canary: Incident) -> None:
    deployed = deployed_worker(canary.target, canary.target.fleet.worker("notification_sweeper"))
    assert (deployed.deployed, deployed.live_version, deployed.reserved_concurrency) == (True, None, None)


def test_every_worker_is_read_in_catalog_order_with_progress(canary: Incident) -> None:
    # When the whole fleet is read
    seen: list[str] = []
    found = deployed_workers(canary.target, on_worker=lambda worker: seen.append(worker.name))
    # Then each worker was read once, in catalog order, and all are deployed
    assert [worker.worker for worker in found] == seen == list(canary.target.fleet.workers)
    assert all(worker.deployed for worker in found)


def test_a_stack_with_nothing_deployed_reads_not_deployed_for_every_worker(canary: Incident) -> None:
    # Given a region of the same (moto) account where the stack was never deployed
    target = Target(
        stack="local",
        config=load_committed("local"),
        clients=AwsClients.for_emulator(None, region="eu-west-1"),
    )
    target.__dict__["graph"] = canary.target.graph
    # When what is deployed there is read
    found = deployed_workers(target)
    # Then every worker reads "not deployed", with no settings
    assert found == [
        DeployedWorker(worker=name, function_name=worker.function_name, deployed=False)
        for name, worker in target.fleet.workers.items()
    ]
