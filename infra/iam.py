"""Least-privilege IAM from data: statements are values rendered into policy JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi

# Actions AWS does not let you scope below `*`. Anything else must name its resources.
WILDCARD_RESOURCE_ACTIONS = frozenset({"ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"})


@dataclass(frozen=True, kw_only=True)
class Statement:
    """One Allow statement: explicit actions on explicit resources, optionally conditioned."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[pulumi.Input[str], ...]
    conditions: dict[str, dict[str, pulumi.Input[str] | list[str]]] | None = None

    def __post_init__(self) -> None:
        if not self.actions or not self.resources:
            raise ValueError(f"statement {self.sid} needs at least one action and one resource")
        for action in self.actions:
            if "*" in action:
                raise ValueError(f"statement {self.sid}: wildcard action {action!r}; name the actions")
        if "*" in self.resources and not set(self.actions) <= WILDCARD_RESOURCE_ACTIONS:
            raise ValueError(
                f"statement {self.sid}: resource '*' is only allowed for {WILDCARD_RESOURCE_ACTIONS}"
            )

    def document(self) -> dict[str, object]:
        """The statement as IAM policy JSON (resources may still be outputs)."""
        rendered: dict[str, object] = {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": list(self.actions),
            "Resource": list(self.resources),
        }
        if self.conditions:
            rendered["Condition"] = self.conditions
        return rendered


# What the stack's key is used for, by the service that calls KMS on the caller's behalf.
KeyService = Literal["dynamodb", "kinesis", "secretsmanager", "sqs"]
DECRYPT = frozenset({"kms:Decrypt"})
# SQS producers need both: SQS generates the message's data key and decrypts it for reuse.
SQS_SEND = frozenset({"kms:GenerateDataKey", "kms:Decrypt"})


@dataclass(frozen=True, kw_only=True)
class KeyUse:
    """What one grant needs of the stack's customer-managed key: KMS actions, through one service."""

    actions: frozenset[str]
    service: KeyService


def stack_key_statement(
    key_arn: pulumi.Input[str] | None, region: str, uses: Iterable[KeyUse]
) -> Statement | None:
    """One statement for everything a role does under the stack's key: the union of the actions its
    grants need, on that key only, and only through the services it uses (kms:ViaService)."""
    needed = list(uses)
    if key_arn is None or not needed:
        return None
    return Statement(
        sid="UseStackKey",
        actions=tuple(sorted(set().union(*(use.actions for use in needed)))),
        resources=(key_arn,),
        conditions={
            "StringEquals": {
                "kms:ViaService": sorted({f"{use.service}.{region}.amazonaws.com" for use in needed})
            }
        },
    )


def json_document(document: Any) -> pulumi.Output[str]:
    """`pulumi.Output.json_dumps` of a document of dicts, lists and tuples whose leaves may be outputs.

    The same text, dependencies, secrecy and unknowns (tests/infra/test_iam.py): `json_dumps` turns
    every dict and list of the document into an output of its own (a gather and tasks each), where
    this waits for the leaf outputs only, all at once, and renders the text when they are known.
    """
    leaves = list(_output_leaves(document))
    return pulumi.Output.all(*leaves).apply(lambda values: json.dumps(_filled(document, iter(values))))


def _output_leaves(value: Any) -> Iterator[pulumi.Output[Any]]:
    if isinstance(value, pulumi.Output):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _output_leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _output_leaves(item)


def _filled(value: Any, resolved: Iterator[Any]) -> Any:
    """The document with each output replaced by its value, in the order `_output_leaves` found them."""
    if isinstance(value, pulumi.Output):
        return next(resolved)
    if isinstance(value, dict):
        return {key: _filled(item, resolved) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_filled(item, resolved) for item in value]
    return value


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """A policy JSON document; ARNs may still be outputs."""
    return json_document(
        {"Version": "2012-10-17", "Statement": [statement.document() for statement in statements]}
    )


def assume_role_policy(
    service: str, *, source_arn: pulumi.Input[str] | None = None, source_account: str | None = None
) -> pulumi.Output[str]:
    """Trust policy for an AWS service, pinned to a source ARN or account when given (confused deputy)."""
    statement: dict[str, object] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    conditions: dict[str, dict[str, pulumi.Input[str]]] = {}
    if source_arn is not None:
        conditions["ArnLike"] = {"aws:SourceArn": source_arn}
    if source_account is not None:
        conditions["StringEquals"] = {"aws:SourceAccount": source_account}
    if conditions:
        statement["Condition"] = conditions
    return json_document({"Version": "2012-10-17", "Statement": [statement]})
