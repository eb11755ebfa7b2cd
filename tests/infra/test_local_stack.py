"""The `local` stack targets an AWS emulator on loopback and nothing else."""

import inspect
from ipaddress import ip_address
from urllib.parse import urlparse

import pulumi_aws
import pytest
import yaml

from infra.stack_files import PROJECT_ROOT
from infra.synth import ResourceGraph
from tests.infra.graphs import stack_graph

# pulumi_aws's `cloudwatch` module also holds CloudWatch Events (EventBridge) and CloudWatch Logs
# resources, which the provider sends to those services' own endpoints.
CLOUDWATCH_MODULE_SERVICES = (("event", "events"), ("log", "logs"))


def local_provider_config() -> dict[str, object]:
    document = yaml.safe_load((PROJECT_ROOT / "Pulumi.local.yaml").read_text(encoding="utf-8"))
    return {key: value for key, value in document["config"].items() if key.startswith("aws:")}


def local_endpoints() -> dict[str, str]:
    """The local stack's `aws:endpoints` overrides: one map of service key → URL."""
    overrides = local_provider_config()["aws:endpoints"]
    assert isinstance(overrides, list) and len(overrides) == 1, overrides
    (endpoints,) = overrides
    return {str(service): str(url) for service, url in endpoints.items()}


def test_every_endpoint_override_is_a_provider_endpoint_on_loopback() -> None:
    # Given the endpoint overrides of the local stack and the provider's endpoint schema
    endpoints = local_endpoints()
    known = set(inspect.signature(pulumi_aws.config.outputs.Endpoints.__init__).parameters)

    # When each override is checked
    for service, url in endpoints.items():
        parsed = urlparse(url)

        # Then the service is one the provider knows (Python spells lambda as lambda_)
        assert service in known or f"{service}_" in known, f"unknown aws:endpoints key {service!r}"
        # And it points at this machine only
        assert parsed.scheme == "http"
        assert parsed.hostname is not None
        assert ip_address(parsed.hostname).is_loopback


def endpoint_key(type_token: str) -> str:
    """The `aws:endpoints` key of the service the provider calls for a resource type (`aws:<module>/…`)."""
    module, _, resource = type_token.split(":")[1].partition("/")
    if module == "cloudwatch":
        return next(
            (service for prefix, service in CLOUDWATCH_MODULE_SERVICES if resource.startswith(prefix)), module
        )
    return module


def used_services(graph: ResourceGraph) -> set[str]:
    """The endpoint keys of every AWS resource the graph declares, plus the provider's own STS calls."""
    declared = {endpoint_key(r.type_) for r in graph.resources if r.custom and r.type_.startswith("aws:")}
    return declared | {"sts"}


@pytest.mark.parametrize(
    ("type_token", "service"),
    [
        ("aws:lambda/function:Function", "lambda"),
        ("aws:dynamodb/kinesisStreamingDestination:KinesisStreamingDestination", "dynamodb"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "cloudwatch"),
        ("aws:cloudwatch/eventRule:EventRule", "events"),
        ("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter", "logs"),
    ],
)
def test_a_resource_type_names_the_endpoint_of_its_service(type_token: str, service: str) -> None:
    # Given a resource type token (pulumi_aws's cloudwatch module mixes three services)
    # When its endpoint key is derived
    # Then it is the service the provider calls
    assert endpoint_key(type_token) == service


def test_every_service_the_program_uses_is_redirected_to_the_emulator() -> None:
    # Given the services whose resources the local stack's program declares
    used = used_services(stack_graph("local"))
    assert {"lambda", "events", "logs", "cloudwatch", "sts"} <= used

    # When the local stack's overrides are listed
    endpoints = local_endpoints()

    # Then none is left pointing at real AWS
    assert used - set(endpoints) == set()


def test_local_stack_uses_fake_credentials_and_skips_account_lookups() -> None:
    # Given the local stack's provider settings
    config = local_provider_config()

    # Then the provider never needs real credentials or the metadata API
    assert config["aws:accessKey"] == "testing"
    assert config["aws:secretKey"] == "testing"
    for flag in ("skipCredentialsValidation", "skipRequestingAccountId", "skipMetadataApiCheck"):
        assert config[f"aws:{flag}"] is True
