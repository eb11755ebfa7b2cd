"""Shared resources of a stack, and the references workers take from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.alarm_topic import AlarmTopic, AlarmTopicArgs
from infra.alarms import AlarmTarget
from infra.catalog import QueueName, StreamName
from infra.config import ExternalStreamSettings, StackConfig
from infra.email_templates import TEMPLATES
from infra.graphql_api import GraphqlApi, GraphqlApiArgs
from infra.kms_key import StackKey, StackKeyArgs
from infra.naming import Naming
from infra.packaging import LayerSpec
from infra.queue import WorkQueue, WorkQueueArgs
from infra.streams import kinesis_stream
from infra.table import (
    DEMAND_INDEX,
    MESSAGE_INDEX,
    PENDING_INDEX,
    SALES_INDEX,
    DemandTable,
    DemandTableArgs,
)
from infra.waf import ApiFirewall, ApiFirewallArgs

COMPONENT_TYPE = "dmd:platform:Platform"

SECRETS = {
    "sms_service": "SMS service client credentials",
    "bitly": "Bitly v4 access token",
    "discovery": "Ticketmaster Discovery API key",
    "accounts": "TM Accounts API client credentials",
    "publish": "TM Publish API key (dmd suppression publish)",
}


@dataclass(frozen=True, kw_only=True)
class QueueRef:
    """A queue and its DLQ as workers see them."""

    name: str
    arn: pulumi.Input[str]
    url: pulumi.Input[str]
    dead_letter_queue_name: str
    retention_seconds: int
    dead_letter_queue_arn: pulumi.Input[str]
    dead_letter_queue_url: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class StreamRef:
    """A Kinesis stream as workers see it."""

    name: str
    arn: pulumi.Input[str]
    retention_hours: int
    kms_key_arn: str | None = None
    """The customer KMS key of a stream another team owns; None for the AWS-managed key."""
    under_stack_key: bool = False
    """Created by the program under the stack's key: its consumers need kms:Decrypt on that key."""


@dataclass(frozen=True, kw_only=True)
class PlatformRefs:
    """Everything a Worker needs from the platform: names known now, ARNs possibly later."""

    table_name: str
    table_arn: pulumi.Input[str]
    index_names: Mapping[str, str]
    streams: Mapping[StreamName, StreamRef]
    queues: Mapping[QueueName, QueueRef]
    secret_arns: Mapping[str, pulumi.Input[str]]
    alarm_topic_arn: pulumi.Input[str]
    layer_arns: Mapping[str, pulumi.Input[str]]
    graphql_api_id: pulumi.Input[str]
    email_template_names: Mapping[str, str]
    email_template_prefix: str
    email_identity_arn: str
    kms_key_arn: pulumi.Input[str] | None = None
    """The stack's customer-managed key (every table, log group, secret, queue and stream the
    program creates is under it); None: AWS-managed keys."""


@dataclass(frozen=True, kw_only=True)
class LayerArtifact:
    """A dependency layer to publish: what it is built from and where its archive is."""

    spec: LayerSpec
    archive: pulumi.Archive


@dataclass(frozen=True, kw_only=True)
class PlatformArgs:
    """The validated stack and one dependency layer per architecture the workers use."""

    stack: StackConfig
    layers: Mapping[str, LayerArtifact]


class Platform(pulumi.ComponentResource):
    """Stack key, table and CDC stream, queues, SMS status stream, alarm topic, secrets, API, SES, layer."""

    refs: PlatformRefs
    stack_key: StackKey | None
    table: DemandTable
    alarm_topic: AlarmTopic
    api: GraphqlApi
    api_firewall: ApiFirewall | None

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        stack = args.stack
        naming = Naming(environment=stack.environment, region=stack.region)
        child = pulumi.ResourceOptions(parent=self)
        settings = stack.platform
        kms = settings.kms
        self.stack_key = (
            StackKey(
                f"{name}-kms",
                StackKeyArgs(
                    naming=naming,
                    account_id=stack.account_id,
                    deletion_window_days=kms.deletion_window_days,
                    production=stack.production,
                ),
                opts=child,
            )
            if kms is not None and kms.create
            else None
        )
        key_arn: pulumi.Input[str] | None = (
            self.stack_key.key.arn if self.stack_key is not None else (kms.key_arn if kms else None)
        )

        self.alarm_topic = AlarmTopic(
            f"{name}-alarm-topic",
            AlarmTopicArgs(
                naming=naming,
                account_id=stack.account_id,
                settings=settings.alarm_topic,
                kms_key_arn=key_arn,
            ),
            opts=child,
        )
        alarm_target = AlarmTarget(
            topic_arn=self.alarm_topic.topic.arn,
            runbook_base_url=stack.observability.runbook_base_url,
            tags=naming.tags(),
        )
        self.table = DemandTable(
            f"{name}-demand",
            DemandTableArgs(
                naming=naming,
                table=settings.table,
                stream=settings.table_stream,
                production=stack.production,
                alarms=alarm_target,
                kms_key_arn=key_arn,
            ),
            opts=child,
        )
        streams: dict[StreamName, StreamRef] = {
            "table": StreamRef(
                name=naming.table_stream_name,
                arn=self.table.stream.arn,
                retention_hours=settings.table_stream.retention_hours,
                under_stack_key=key_arn is not None,
            ),
            "sms_status": self._sms_status_stream(name, naming, stack, key_arn),
        }
        queues: dict[QueueName, QueueRef] = {}
        queue_suffixes: tuple[tuple[QueueName, str], ...] = (
            ("short_url", "event-short-url"),
            ("generation", "generation-jobs"),
        )
        for queue_name, suffix in queue_suffixes:
            queue_settings = settings.queue(queue_name)
            queue = WorkQueue(
                f"{name}-{suffix}",
                WorkQueueArgs(naming=naming, suffix=suffix, settings=queue_settings, kms_key_arn=key_arn),
                opts=child,
            )
            queues[queue_name] = QueueRef(
                name=queue.queue_name,
                arn=queue.queue.arn,
                url=queue.queue.url,
                dead_letter_queue_name=queue.dead_letter_queue_name,
                retention_seconds=queue_settings.message_retention_seconds,
                dead_letter_queue_arn=queue.dead_letter_queue.arn,
                dead_letter_queue_url=queue.dead_letter_queue.url,
            )
        # Values are set outside the program (`dmd secrets set --stack <stack> <name>`), never in config.
        secrets = {
            key: aws.secretsmanager.Secret(
                f"{name}-secret-{key.replace('_', '-')}",
                name=naming.secret_name(key),
                description=description,
                recovery_window_in_days=30 if stack.production else 7,
                kms_key_id=key_arn,
                tags=naming.tags(),
                opts=child,
            )
            for key, description in SECRETS.items()
        }
        self.api = GraphqlApi(
            f"{name}-graphql",
            GraphqlApiArgs(
                naming=naming,
                account_id=stack.account_id,
                authentication=settings.appsync_authentication,
                log_retention_days=settings.appsync_log_retention_days,
                alarms=alarm_target,
                kms_key_arn=key_arn,
            ),
            opts=child,
        )
        waf = settings.api.waf
        self.api_firewall = (
            ApiFirewall(
                f"{name}-api-waf",
                ApiFirewallArgs(
                    naming=naming,
                    account_id=stack.account_id,
                    region=stack.region,
                    settings=waf,
                    api_arn=self.api.api.arn,
                    alarms=alarm_target,
                    log_kms_key_arn=key_arn,
                ),
                opts=child,
            )
            if waf is not None and waf.enabled
            else None
        )
        template_names: dict[str, str] = {}
        for locale in stack.email.locales:
            template = TEMPLATES[locale]
            template_name = naming.email_template_name(locale)
            aws.ses.Template(
                f"{name}-email-{locale}",
                name=template_name,
                subject=template.subject,
                html=template.html,
                text=template.text,
                opts=child,
            )
            template_names[locale] = template_name
        layers = {
            architecture: aws.lambda_.LayerVersion(
                f"{name}-deps-layer-{architecture}",
                layer_name=naming.layer_name(architecture),
                description=f"Worker dependencies, python{layer.spec.python_version} ({layer.spec.key[:16]})",
                code=layer.archive,
                source_code_hash=layer.spec.source_code_hash,
                compatible_runtimes=[f"python{layer.spec.python_version}"],
                compatible_architectures=[architecture],
                opts=child,
            )
            for architecture, layer in sorted(args.layers.items())
        }
        self.refs = PlatformRefs(
            table_name=naming.table_name,
            table_arn=self.table.table.arn,
            index_names={
                "sales": SALES_INDEX,
                "demand": DEMAND_INDEX,
                "message": MESSAGE_INDEX,
                "pending": PENDING_INDEX,
            },
            streams=streams,
            queues=queues,
            secret_arns={key: secret.arn for key, secret in secrets.items()},
            alarm_topic_arn=self.alarm_topic.topic.arn,
            layer_arns={architecture: layer.arn for architecture, layer in layers.items()},
            graphql_api_id=self.api.api.id,
            email_template_names=template_names,
            email_template_prefix=naming.email_template_prefix,
            email_identity_arn=(
                f"arn:aws:ses:{stack.region}:{stack.account_id}:identity/{stack.email.identity_domain}"
            ),
            kms_key_arn=key_arn,
        )
        self.register_outputs(
            {
                "table_name": self.table.table.name,
                "table_stream_arn": self.table.stream.arn,
                "alarm_topic_arn": self.alarm_topic.topic.arn,
                "graphql_api_id": self.api.api.id,
            }
        )

    def _sms_status_stream(
        self, name: str, naming: Naming, stack: StackConfig, key_arn: pulumi.Input[str] | None
    ) -> StreamRef:
        settings = stack.platform.sms_status_stream
        if isinstance(settings, ExternalStreamSettings):
            # Owned by the SMS service's team: referenced, never managed here (its key setting too).
            return StreamRef(
                name=settings.existing_arn.rsplit("/", 1)[1],
                arn=settings.existing_arn,
                retention_hours=settings.retention_hours,
                kms_key_arn=settings.kms_key_arn,
            )
        stream_name = naming.sms_status_stream_name
        stream = kinesis_stream(
            f"{name}-sms-status",
            stream_name=stream_name,
            settings=settings,
            tags=naming.tags(),
            opts=pulumi.ResourceOptions(parent=self),
            kms_key_arn=key_arn,
        )
        return StreamRef(
            name=stream_name,
            arn=stream.arn,
            retention_hours=settings.retention_hours,
            under_stack_key=key_arn is not None,
        )
