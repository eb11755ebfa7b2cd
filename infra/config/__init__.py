"""Stack configuration: typed, validated before any resource is declared."""

from infra.config.alarms import AlarmSettings
from infra.config.base import LOG_RETENTION_DAYS, PROJECT, ConfigError
from infra.config.loading import load_stack_config, stack_from_pulumi, stack_values
from infra.config.platform import (
    AlarmTopicSettings,
    ExternalStreamSettings,
    KmsSettings,
    PlatformSettings,
    QueueSettings,
    StreamSettings,
    Subscription,
    TableSettings,
    VpcSettings,
)
from infra.config.resolved_triggers import (
    QueueTrigger,
    ResolverTrigger,
    ScheduleTrigger,
    StreamTrigger,
    Trigger,
    resolve_trigger,
)
from infra.config.services import (
    BusinessRules,
    EmailSettings,
    ObservabilitySettings,
    SmsAppIds,
    VendorSettings,
)
from infra.config.stack import RawStackConfig, StackConfig
from infra.config.triggers import (
    QueueTriggerSettings,
    ResolverTriggerSettings,
    ScheduleTriggerSettings,
    StreamTriggerSettings,
    TriggerSettings,
)
from infra.config.workers import (
    FunctionSettings,
    WorkerConfig,
    WorkerDefaults,
    WorkerOverrides,
)

__all__ = [
    "LOG_RETENTION_DAYS",
    "PROJECT",
    "AlarmSettings",
    "AlarmTopicSettings",
    "BusinessRules",
    "ConfigError",
    "EmailSettings",
    "ExternalStreamSettings",
    "FunctionSettings",
    "KmsSettings",
    "ObservabilitySettings",
    "PlatformSettings",
    "QueueSettings",
    "QueueTrigger",
    "QueueTriggerSettings",
    "RawStackConfig",
    "ResolverTrigger",
    "ResolverTriggerSettings",
    "ScheduleTrigger",
    "ScheduleTriggerSettings",
    "SmsAppIds",
    "StackConfig",
    "StreamSettings",
    "StreamTrigger",
    "StreamTriggerSettings",
    "Subscription",
    "TableSettings",
    "Trigger",
    "TriggerSettings",
    "VendorSettings",
    "VpcSettings",
    "WorkerConfig",
    "WorkerDefaults",
    "WorkerOverrides",
    "load_stack_config",
    "resolve_trigger",
    "stack_from_pulumi",
    "stack_values",
]
