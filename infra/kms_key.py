"""The stack's customer-managed KMS key: one per stack, for its table, logs, secrets, queues and streams."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.key_policy import key_policy
from infra.naming import Naming

COMPONENT_TYPE = "dmd:platform:StackKey"


@dataclass(frozen=True, kw_only=True)
class StackKeyArgs:
    """Key identity, account, deletion window; `production` protects the key from `pulumi destroy`."""

    naming: Naming
    account_id: str
    deletion_window_days: int
    production: bool

    def __post_init__(self) -> None:
        if not 7 <= self.deletion_window_days <= 30:
            raise ValueError(
                f"deletion_window_days: KMS allows 7 to 30 days, got {self.deletion_window_days}"
            )


class StackKey(pulumi.ComponentResource):
    """A symmetric key with yearly rotation, its alias, and the key policy of infra/key_policy.py."""

    key: aws.kms.Key
    alias: aws.kms.Alias

    def __init__(self, name: str, args: StackKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        naming = args.naming
        # Deleting the key makes everything under it unreadable: production keys are Pulumi-protected.
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{naming.prefix}: demand table, log groups, secrets, queues, streams, alarm topic",
            key_usage="ENCRYPT_DECRYPT",
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            enable_key_rotation=True,
            deletion_window_in_days=args.deletion_window_days,
            policy=json.dumps(
                key_policy(account_id=args.account_id, region=naming.region, name_prefix=naming.prefix)
            ),
            tags=naming.tags(),
            opts=pulumi.ResourceOptions(parent=self, protect=args.production),
        )
        self.alias = aws.kms.Alias(
            f"{name}-alias",
            name=naming.kms_alias_name,
            target_key_id=self.key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"key_arn": self.key.arn, "alias_name": self.alias.name})
