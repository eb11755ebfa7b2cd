"""Secrets Manager secrets, created with a visible placeholder value (the program declares none)."""

from __future__ import annotations

from typing import Final

from sandbox.materialize.api_shapes import compact, same_named, tag_list
from sandbox.materialize.results import Kind
from sandbox.materialize.step import Step

PLACEHOLDER_SECRET_VALUE: Final = '{"sandbox": true}'  # noqa: S105 - a visible placeholder


def create_secret(step: Step) -> dict[str, str]:
    """A secret holding `PLACEHOLDER_SECRET_VALUE`."""
    inputs = step.inputs
    name = step.physical_name()
    # The program declares the secret, never its value; the sandbox gives it a recognisable placeholder.
    arn = step.client("secretsmanager").create_secret(
        **compact(
            Name=name,
            **same_named(inputs, "description", "kmsKeyId"),
            SecretString=PLACEHOLDER_SECRET_VALUE,
            Tags=tag_list(inputs.get("tags")) or None,
        )
    )["ARN"]
    step.record(Kind.SECRET, name, arn)
    return {"id": arn, "arn": arn}
