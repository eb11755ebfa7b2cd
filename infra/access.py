"""What each declared Access grants: IAM statements and the environment variables that name it."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi

from infra.catalog import Access, WorkerSpec
from infra.config import StackConfig
from infra.iam import DECRYPT, SQS_SEND, KeyUse, Statement
from infra.platform import PlatformRefs


@dataclass(frozen=True, kw_only=True)
class Grant:
    """Statements, environment variables and uses of the stack's key of one Access."""

    statements: tuple[Statement, ...]
    environment: dict[str, pulumi.Input[str]]
    key_uses: tuple[KeyUse, ...] = ()
    """What the resources it reaches need of the stack's key (one statement per role, see iam.py)."""


TABLE_KEY_USE = KeyUse(actions=DECRYPT, service="dynamodb")


def _sid(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("_", "-").split("-"))


def grant(access: Access, stack: StackConfig, refs: PlatformRefs) -> Grant:
    """The least-privilege grant of one Access in this stack."""
    table_env: dict[str, pulumi.Input[str]] = {
        "DEMAND_TABLE_NAME": refs.table_name,
        "DEMAND_TABLE_SALES_INDEX": refs.index_names["sales"],
        "DEMAND_TABLE_DEMAND_INDEX": refs.index_names["demand"],
        "DEMAND_TABLE_MESSAGE_INDEX": refs.index_names["message"],
        "DEMAND_TABLE_PENDING_INDEX": refs.index_names["pending"],
    }
    vendors = stack.vendors
    match access:
        case Access.TABLE_READ:
            index_arns = [
                pulumi.Output.concat(refs.table_arn, "/index/", index) for index in refs.index_names.values()
            ]
            return Grant(
                statements=(
                    Statement(
                        sid="ReadDemandTable",
                        actions=("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"),
                        resources=(refs.table_arn, *index_arns),
                    ),
                ),
                environment=table_env,
                # DynamoDB decrypts the table key as the caller, readers and writers alike.
                key_uses=(TABLE_KEY_USE,),
            )
        case Access.TABLE_WRITE:
            return Grant(
                statements=(
                    Statement(
                        sid="WriteDemandTable",
                        actions=("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"),
                        resources=(refs.table_arn,),
                    ),
                ),
                environment=table_env,
                key_uses=(TABLE_KEY_USE,),
            )
        case Access.TABLE_UPDATE:
            return Grant(
                statements=(
                    Statement(
                        sid="UpdateDemandTableItems",
                        actions=("dynamodb:UpdateItem",),
                        resources=(refs.table_arn,),
                    ),
                ),
                environment=table_env,
                key_uses=(TABLE_KEY_USE,),
            )
        case Access.SHORT_URL_QUEUE_SEND | Access.GENERATION_QUEUE_SEND:
            queue = refs.queues["short_url" if access is Access.SHORT_URL_QUEUE_SEND else "generation"]
            variable = (
                "SHORT_URL_QUEUE_URL" if access is Access.SHORT_URL_QUEUE_SEND else "GENERATION_QUEUE_URL"
            )
            return Grant(
                statements=(
                    Statement(
                        sid=f"Send{_sid(access.value)}", actions=("sqs:SendMessage",), resources=(queue.arn,)
                    ),
                ),
                environment={variable: queue.url},
                key_uses=(KeyUse(actions=SQS_SEND, service="sqs"),),
            )
        case Access.GENERATION_DLQ_PARK:
            # The generator parks a malformed demand item whole in its queue's DLQ, next to the jobs
            # SQS moved there: `dmd dlq show` tells them apart, `dmd dlq redrive` re-drives both.
            dead_letters = refs.queues["generation"]
            return Grant(
                statements=(
                    Statement(
                        sid="ParkInGenerationDeadLetterQueue",
                        actions=("sqs:SendMessage",),
                        resources=(dead_letters.dead_letter_queue_arn,),
                    ),
                ),
                environment={"PARKING_QUEUE_URL": dead_letters.dead_letter_queue_url},
                key_uses=(KeyUse(actions=SQS_SEND, service="sqs"),),
            )
        case Access.SMS_SERVICE:
            sms = _vendor_grant(
                "sms_service", "SMS_SERVICE", vendors.sms_service_url, vendors.sms_service_role_arn, refs
            )
            app_ids = json.dumps(vendors.sms_app_ids.by_type(), separators=(",", ":"))
            return Grant(
                statements=sms.statements,
                environment={**sms.environment, "SMS_APP_IDS": app_ids},
                key_uses=sms.key_uses,
            )
        case Access.ACCOUNTS:
            return _vendor_grant(
                "accounts", "ACCOUNTS", vendors.accounts_url, vendors.accounts_role_arn, refs
            )
        case Access.BITLY:
            bitly = _vendor_grant("bitly", "BITLY", vendors.bitly_url, None, refs)
            # One group for every worker that shortens: Bitly keeps one link per group and long URL,
            # so the shortener and the generator get the same link for an event.
            return Grant(
                statements=bitly.statements,
                environment={**bitly.environment, "BITLY_GROUP_GUID": vendors.bitly_group_guid},
                key_uses=bitly.key_uses,
            )
        case Access.DISCOVERY:
            grant_ = _vendor_grant("discovery", "DISCOVERY", vendors.discovery_url, None, refs)
            rules = stack.business
            return Grant(
                statements=grant_.statements,
                environment={
                    **grant_.environment,
                    "SUPPRESSED_ARTIST_IDS": ",".join(rules.suppressed_artist_ids),
                    "ALLOWED_COUNTRIES": ",".join(rules.allowed_countries),
                    "ALLOWED_CLASSIFICATIONS": ",".join(rules.allowed_classifications),
                    "EVENT_CACHE_TTL_HOURS": str(stack.platform.table.event_cache_ttl_hours),
                },
                key_uses=grant_.key_uses,
            )
        case Access.EMAIL:
            template_arns = tuple(
                f"arn:aws:ses:{stack.region}:{stack.account_id}:template/{name}"
                for name in refs.email_template_names.values()
            )
            return Grant(
                statements=(
                    Statement(
                        sid="SendTemplatedEmail",
                        actions=("ses:SendTemplatedEmail",),
                        resources=(refs.email_identity_arn, *template_arns),
                        conditions={"StringEquals": {"ses:FromAddress": stack.email.from_address}},
                    ),
                ),
                environment={
                    "EMAIL_FROM_ADDRESS": stack.email.from_address,
                    "EMAIL_TEMPLATE_PREFIX": refs.email_template_prefix,
                },
            )


def _vendor_grant(secret: str, variable: str, url: str, role_arn: str | None, refs: PlatformRefs) -> Grant:
    statements = [
        Statement(
            sid=f"Read{_sid(secret)}Secret",
            actions=("secretsmanager:GetSecretValue",),
            resources=(refs.secret_arns[secret],),
        )
    ]
    environment: dict[str, pulumi.Input[str]] = {
        f"{variable}_URL": url,
        f"{variable}_SECRET_ARN": refs.secret_arns[secret],
    }
    if role_arn is not None:
        # The vendor authorizes IAM principals: calls are SigV4-signed with this assumed role.
        statements.append(
            Statement(sid=f"Assume{_sid(secret)}Role", actions=("sts:AssumeRole",), resources=(role_arn,))
        )
        environment[f"{variable}_ROLE_ARN"] = role_arn
    return Grant(
        statements=tuple(statements),
        environment=environment,
        key_uses=(KeyUse(actions=DECRYPT, service="secretsmanager"),),
    )


def worker_grants(spec: WorkerSpec, stack: StackConfig, refs: PlatformRefs) -> list[Grant]:
    """Grants of every Access the worker declares, in a stable order."""
    return [grant(access, stack, refs) for access in sorted(spec.access, key=lambda item: item.value)]
