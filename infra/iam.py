"""Least-privilege IAM from data: statements are values rendered into policy JSON."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

# Actions AWS does not let you scope below `*`. Anything else must name its resources.
WILDCARD_RESOURCE_ACTIONS = frozenset({"ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"})


@dataclass(frozen=True, kw_only=True)
class Statement:
    """One Allow statement: explicit actions on explicit resources, optionally conditioned."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[pulumi.Input[str], ...]
    conditions: dict[str, dict[str, pulumi.Input[str]]] | None = None

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


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """A policy JSON document; ARNs may still be outputs."""
    return pulumi.Output.json_dumps(
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
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [statement]})
