"""The program's vendor secrets: the keys each value must hold, setting a value, and each secret's status.

A value never passes through argv, logs or output: the command reads it from stdin or a hidden
prompt, `checked_keys` names only keys in what it refuses, and `put_value` returns the new version.
Status is read without reading any value (DescribeSecret, ListSecretVersionIds).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from aws_clients import AwsClients
from ops.operator_io import JsonModel
from ops.target import Fleet
from workers.shared import publish, sms_service

# The keys each worker reads from its secret (`secret_value(arn).get(KEY)`, a non-empty string),
# by the secret's name in the stack (`prd3292-<env>-<region>/<name>`). tests/ops/test_secrets.py
# checks that a value accepted here is one the worker's own reader accepts.
SECRET_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "sms-service": (sms_service.API_KEY_FIELD,),  # workers/shared/sms_service.py
    "bitly": ("token",),  # workers/shared/bitly.py bitly_token
    "discovery": ("apiKey",),  # workers/shared/discovery/client.py api_key_from_secret
    "accounts": ("apiKey",),  # workers/shared/accounts.py api_key
    "publish": (publish.API_KEY_FIELD,),  # workers/shared/publish.py (dmd suppression publish)
}
CURRENT_STAGE: Final = "AWSCURRENT"
DEFAULT_KMS_KEY: Final = "aws/secretsmanager"  # DescribeSecret names no key when it is this one
# workers/shared/vendor_http.py `secret_value`: a worker reads its secret at most this long ago.
WORKER_CACHE_SECONDS: Final = 300


class SecretsError(Exception):
    """The secret or its value cannot be used as asked; the message is one line and never holds a value."""


def stack_secrets(fleet: Fleet) -> dict[str, str]:
    """The stack's secrets by short name (`bitly`) → physical name (`prd3292-qa1-us-east-1/bitly`)."""
    return {secret.rsplit("/", 1)[-1]: secret for secret in fleet.secrets}


def secret_name(fleet: Fleet, name: str) -> str:
    """The physical name of the stack's secret `name`; SecretsError lists the known names."""
    secrets = stack_secrets(fleet)
    if name not in secrets:
        raise SecretsError(f"no secret {name!r} in this stack (secrets: {', '.join(sorted(secrets))})")
    return secrets[name]


def example_value(name: str) -> str:
    """What a value of the secret looks like, with placeholders (for prompts and help)."""
    return json.dumps(dict.fromkeys(SECRET_KEYS.get(name, ()), "…"), ensure_ascii=False)


def checked_keys(name: str, text: str) -> tuple[str, ...]:
    """The keys of a value for secret `name`: a JSON object with every key its worker reads.

    SecretsError otherwise, naming the missing or empty key (never the value or a part of it).
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        # The decoder's message names a position, never the text around it.
        raise SecretsError(
            f"the value is not JSON ({error.msg} at line {error.lineno} column {error.colno}); "
            f"expected {example_value(name)}"
        ) from None
    if not isinstance(document, dict):
        raise SecretsError(f"the value is JSON but not an object; expected {example_value(name)}")
    for key in SECRET_KEYS.get(name, ()):
        found = document.get(key)
        if found is None:
            raise SecretsError(f"the value has no {key!r}; expected {example_value(name)}")
        if not isinstance(found, str) or not found.strip():
            raise SecretsError(f"{key!r} must be a non-empty string; expected {example_value(name)}")
    return tuple(sorted(document))


class SecretVersion(JsonModel):
    """A value just stored: the secret and its new current version."""

    name: str
    secret: str
    arn: str
    version_id: str


def put_value(clients: AwsClients, *, name: str, secret: str, value: str) -> SecretVersion:
    """Store `value` as the secret's new current version (PutSecretValue)."""
    answer = clients.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=value)
    return SecretVersion(name=name, secret=secret, arn=answer["ARN"], version_id=answer["VersionId"])


class SecretStatus(JsonModel):
    """One secret without its value: whether it has one, since when, when it changed and was read."""

    name: str
    secret: str
    exists: bool
    has_value: bool
    current_version: str | None = None
    value_set_at: datetime | None = None  # when the current version was stored
    last_changed: datetime | None = None  # value, description, tags or policy
    last_accessed: datetime | None = None  # day granularity (Secrets Manager rounds it)
    kms_key: str | None = None
    required_keys: tuple[str, ...] = ()


def secret_status(clients: AwsClients, *, name: str, secret: str) -> SecretStatus:
    """One secret's status; a secret the stack declares but AWS lacks is `exists: false`."""
    manager = clients.client("secretsmanager")
    required = SECRET_KEYS.get(name, ())
    try:
        described = manager.describe_secret(SecretId=secret)
    except manager.exceptions.ResourceNotFoundException:
        return SecretStatus(name=name, secret=secret, exists=False, has_value=False, required_keys=required)
    current = _current_version(manager, secret)
    return SecretStatus(
        name=name,
        secret=secret,
        exists=True,
        has_value=current is not None,
        current_version=None if current is None else current["VersionId"],
        value_set_at=None if current is None else current.get("CreatedDate"),
        last_changed=described.get("LastChangedDate"),
        last_accessed=described.get("LastAccessedDate"),
        kms_key=described.get("KmsKeyId") or DEFAULT_KMS_KEY,
        required_keys=required,
    )


def _current_version(manager: Any, secret: str) -> dict[str, Any] | None:
    """The AWSCURRENT version's id and dates; None while the secret has no value (never set)."""
    request: dict[str, str] = {"SecretId": secret}
    while True:  # botocore has no paginator for this call
        page = manager.list_secret_version_ids(**request)
        for version in page.get("Versions", []):
            if CURRENT_STAGE in version.get("VersionStages", []):
                return dict(version)
        if not page.get("NextToken"):
            return None
        request["NextToken"] = page["NextToken"]
