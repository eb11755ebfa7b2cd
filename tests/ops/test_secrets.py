"""The vendor secrets: which values the workers can read, and each secret's status without its value."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from aws_clients import AwsClients
from infra.platform import SECRETS
from infra.synth import ResourceGraph
from ops.secrets import (
    DEFAULT_KMS_KEY,
    SECRET_KEYS,
    SecretsError,
    checked_keys,
    put_value,
    secret_name,
    secret_status,
    stack_secrets,
)
from ops.target import Fleet, fleet_of
from workers.shared.accounts import api_key
from workers.shared.bitly import bitly_token
from workers.shared.clients import reset_clients
from workers.shared.discovery.client import api_key_from_secret
from workers.shared.errors import SecretError
from workers.shared.publish import publish_api_key
from workers.shared.sms_service import SmsServiceClient

PREFIX = "prd3292-local-us-east-1"


@pytest.fixture
def fleet(local_graph: ResourceGraph) -> Fleet:
    """The local stack's names."""
    return fleet_of(local_graph)


@pytest.fixture
def fresh_worker_clients() -> Iterator[None]:
    """The workers' cached clients and secrets provider, built again inside this test's moto."""
    reset_clients()
    yield
    reset_clients()


def test_every_secret_the_program_declares_has_the_keys_its_worker_reads(fleet: Fleet) -> None:
    # Given the program's secrets / Then `dmd secrets set` knows what each value must hold
    assert set(SECRET_KEYS) == {key.replace("_", "-") for key in SECRETS}
    assert stack_secrets(fleet) == {name: f"{PREFIX}/{name}" for name in SECRET_KEYS}


def _sms_key(arn: str) -> str:
    # The sender resolves the key before it claims anything (preflight); no role: no signing.
    SmsServiceClient("http://127.0.0.1:9", secret_arn=arn, region="us-east-1").preflight()
    return "read"


READERS: dict[str, Callable[[str], str]] = {
    "sms-service": _sms_key,
    "bitly": bitly_token,
    "discovery": api_key_from_secret,
    "accounts": api_key,
    "publish": publish_api_key,
}


@pytest.mark.usefixtures("fresh_worker_clients")
@pytest.mark.parametrize("name", sorted(SECRET_KEYS))
def test_a_value_dmd_accepts_is_one_the_worker_reads(declared_secrets: AwsClients, name: str) -> None:
    # Given a value made of exactly the keys `dmd secrets set` requires for this secret
    value = json.dumps(dict.fromkeys(SECRET_KEYS[name], "k-123"))
    assert checked_keys(name, value) == tuple(sorted(SECRET_KEYS[name]))
    arn = put_value(declared_secrets, name=name, secret=f"{PREFIX}/{name}", value=value).arn

    # When the worker's own reader reads the secret / Then it finds what it needs
    assert READERS[name](arn) in {"k-123", "read"}


@pytest.mark.usefixtures("fresh_worker_clients")
@pytest.mark.parametrize("name", sorted(SECRET_KEYS))
def test_a_value_the_worker_cannot_read_is_one_dmd_refuses(declared_secrets: AwsClients, name: str) -> None:
    # Given a value with another key than the one the worker reads
    value = json.dumps({"other": "k-123"})
    arn = declared_secrets.client("secretsmanager").put_secret_value(
        SecretId=f"{PREFIX}/{name}", SecretString=value
    )["ARN"]

    # Then the worker refuses it, and so does `dmd secrets set`
    with pytest.raises(SecretError):
        READERS[name](arn)
    with pytest.raises(SecretsError):
        checked_keys(name, value)


@pytest.mark.parametrize(
    ("value", "named"),
    [
        pytest.param('{"token": "abc"', "not JSON", id="not-json"),
        pytest.param('["abc"]', "not an object", id="an-array"),
        pytest.param('{"apiKey": "abc"}', "no 'token'", id="the-wrong-key"),
        pytest.param('{"token": ""}', "'token' must be a non-empty string", id="empty"),
        pytest.param('{"token": 123456}', "'token' must be a non-empty string", id="a-number"),
    ],
)
def test_a_malformed_value_is_refused_naming_the_key_never_the_value(value: str, named: str) -> None:
    # Given a value for the Bitly secret the worker could not use
    # When it is checked
    with pytest.raises(SecretsError) as refused:
        checked_keys("bitly", value)

    # Then the reason names what is wrong and shows the expected shape, never the value given
    message = str(refused.value)
    assert named in message
    assert '{"token": "…"}' in message
    assert "abc" not in message and "123456" not in message


def test_extra_keys_are_kept_and_listed() -> None:
    # Given an Accounts value with a key the worker does not read (e.g. a note on its origin)
    # Then it is accepted, and its keys (not values) are listed
    assert checked_keys("accounts", '{"apiKey": "k", "issuedBy": "acoe"}') == ("apiKey", "issuedBy")


def test_an_unknown_secret_name_lists_the_stacks_secrets(fleet: Fleet) -> None:
    with pytest.raises(
        SecretsError, match=r"no secret 'twilio' .*accounts, bitly, discovery, publish, sms-service"
    ):
        secret_name(fleet, "twilio")


def test_status_tells_set_unset_and_missing_secrets_apart_without_reading_values(
    declared_secrets: AwsClients,
) -> None:
    # Given bitly set by dmd, discovery created by the program without a value, accounts not deployed
    version = put_value(
        declared_secrets, name="bitly", secret=f"{PREFIX}/bitly", value='{"token": "t"}'
    ).version_id
    declared_secrets.client("secretsmanager").delete_secret(
        SecretId=f"{PREFIX}/accounts", ForceDeleteWithoutRecovery=True
    )

    # When their status is read
    bitly, discovery, accounts = (
        secret_status(declared_secrets, name=name, secret=f"{PREFIX}/{name}")
        for name in ("bitly", "discovery", "accounts")
    )

    # Then each says whether it holds a value, which version, and what the worker needs
    assert (bitly.exists, bitly.has_value, bitly.current_version) == (True, True, version)
    assert bitly.value_set_at is not None and bitly.last_changed is not None
    assert (bitly.kms_key, bitly.required_keys) == (DEFAULT_KMS_KEY, ("token",))
    assert (discovery.exists, discovery.has_value, discovery.current_version) == (True, False, None)
    assert (accounts.exists, accounts.has_value, accounts.kms_key) == (False, False, None)
    assert set(bitly.model_dump()) == {
        "name",
        "secret",
        "exists",
        "hasValue",
        "currentVersion",
        "valueSetAt",
        "lastChanged",
        "lastAccessed",
        "kmsKey",
        "requiredKeys",
    }
