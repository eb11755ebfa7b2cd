"""The `local` stack targets an AWS emulator on loopback and nothing else."""

import inspect
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import urlparse

import pulumi_aws
import yaml

ROOT = Path(__file__).resolve().parents[2]


def local_provider_config() -> dict[str, object]:
    document = yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text(encoding="utf-8"))
    return {key: value for key, value in document["config"].items() if key.startswith("aws:")}


def test_every_endpoint_override_is_a_provider_endpoint_on_loopback() -> None:
    # Given the endpoint overrides of the local stack and the provider's endpoint schema
    (endpoints,) = local_provider_config()["aws:endpoints"]  # type: ignore[misc]
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


def test_every_service_the_program_uses_is_redirected_to_the_emulator() -> None:
    # Given the services whose resources the program declares
    used = {"appsync", "cloudwatch", "dynamodb", "events", "iam", "kinesis", "kms", "lambda", "logs"}
    used |= {"secretsmanager", "ses", "sns", "sqs", "sts"}

    # When the local stack's overrides are listed
    (endpoints,) = local_provider_config()["aws:endpoints"]  # type: ignore[misc]

    # Then none is left pointing at real AWS
    assert used <= set(endpoints)


def test_local_stack_uses_fake_credentials_and_skips_account_lookups() -> None:
    # Given the local stack's provider settings
    config = local_provider_config()

    # Then the provider never needs real credentials or the metadata API
    assert config["aws:accessKey"] == "testing"
    assert config["aws:secretKey"] == "testing"
    for flag in ("skipCredentialsValidation", "skipRequestingAccountId", "skipMetadataApiCheck"):
        assert config[f"aws:{flag}"] is True
