"""Resource names and tags: the one place every physical name of the fleet is built."""

from __future__ import annotations

from dataclasses import dataclass

from infra.email_templates import TEMPLATE_SUFFIX

PRODUCT_CODE = "prd3292"
PRODUCT_NAME = "demand-capture"
SHORT_NAME = "dmnd"
REPOSITORY = "demand-capture/dmd-workers"
# WAF refuses a logging destination whose name does not start with this.
WAF_LOG_GROUP_PREFIX = "aws-waf-logs-"


@dataclass(frozen=True, kw_only=True)
class Naming:
    """Names `prd3292-{env}-{region}-{suffix}` and the tags every taggable resource carries."""

    environment: str
    region: str

    @property
    def prefix(self) -> str:
        """`prd3292-{env}-{region}`, the start of every regional name."""
        return f"{PRODUCT_CODE}-{self.environment}-{self.region}"

    def name(self, suffix: str) -> str:
        """Regional resource name, e.g. `prd3292-qa1-us-east-1-ntfcn-snd`."""
        return f"{self.prefix}-{suffix}"

    def global_name(self, suffix: str) -> str:
        """Environment-wide name without the region, e.g. `prd3292-qa1-dmnd-table-stream`."""
        return f"{PRODUCT_CODE}-{self.environment}-{suffix}"

    def tags(self, inventory_code: str = SHORT_NAME) -> dict[str, str]:
        """Tags for a resource owned by `inventory_code` (a worker's code, or the platform's)."""
        return {
            "ProductCode": PRODUCT_CODE.upper(),
            "ProductName": PRODUCT_NAME,
            "Environment": self.environment,
            "InventoryCode": inventory_code,
            "Repository": REPOSITORY,
            "ManagedBy": "pulumi",
        }

    # A worker's resources, named after its inventory code.

    def function_name(self, inventory_code: str) -> str:
        """The worker's function, and its execution role."""
        return self.name(inventory_code)

    def log_delivery_role_name(self, inventory_code: str) -> str:
        """The role CloudWatch Logs assumes to stream the worker's logs to the central stream."""
        return self.name(f"{inventory_code}-logs")

    def resolver_role_name(self, inventory_code: str) -> str:
        """The role AppSync assumes to invoke a resolver worker."""
        return self.name(f"{inventory_code}-appsync")

    # The platform's resources.

    @property
    def table_name(self) -> str:
        """The demand table."""
        return self.name("demand-table")

    @property
    def table_stream_name(self) -> str:
        """The Kinesis stream the demand table's changes flow into."""
        return self.global_name("dmnd-table-stream")

    @property
    def sms_status_stream_name(self) -> str:
        """The SMS status stream, when the stack creates it."""
        return self.name("sms-status")

    def queue_name(self, suffix: str) -> str:
        """A work queue of the platform, e.g. `...-event-short-url`."""
        return self.name(suffix)

    @property
    def kms_alias_name(self) -> str:
        """The alias of the stack's customer-managed KMS key, e.g. `alias/prd3292-qa1-us-east-1`."""
        return f"alias/{self.prefix}"

    @property
    def alarm_topic_name(self) -> str:
        """The SNS topic every alarm notifies."""
        return self.name("alarms")

    @property
    def api_name(self) -> str:
        """The AppSync GraphQL API."""
        return self.name("api")

    @property
    def api_logging_role_name(self) -> str:
        """The role AppSync assumes to write the API's logs."""
        return self.name("api-logs")

    @property
    def api_waf_name(self) -> str:
        """The WAF web ACL in front of the API; also its CloudWatch metric name."""
        return self.name("api-waf")

    def api_waf_rule_metric_name(self, rule: str) -> str:
        """The CloudWatch metric name (the `Rule` dimension) of one rule of the API's web ACL."""
        return f"{self.api_waf_name}-{rule}"

    @property
    def api_waf_log_group_name(self) -> str:
        """The web ACL's log group (WAF delivers only to groups named `aws-waf-logs-…`)."""
        return f"{WAF_LOG_GROUP_PREFIX}{self.api_waf_name}"

    @property
    def dashboard_name(self) -> str:
        """The fleet's CloudWatch dashboard."""
        return self.name("fleet")

    def secret_name(self, key: str) -> str:
        """A vendor secret, e.g. `prd3292-qa1-us-east-1/sms-service` for `sms_service`."""
        return f"{self.prefix}/{key.replace('_', '-')}"

    @property
    def email_template_prefix(self) -> str:
        """What every SES template name starts with (the sender appends `-<locale>`)."""
        return self.name(TEMPLATE_SUFFIX)

    def email_template_name(self, locale: str) -> str:
        """The SES template of one locale."""
        return f"{self.email_template_prefix}-{locale}"

    def layer_name(self, architecture: str) -> str:
        """The dependency layer of one architecture."""
        return self.name(f"deps-{architecture}")


# Names derived from the name of the resource they belong to.


def log_group_name(function_name: str) -> str:
    """The function's log group (the one Lambda would write to by default)."""
    return f"/aws/lambda/{function_name}"


def api_log_group_name(api_id: str) -> str:
    """The log group AppSync writes an API's logs to (AppSync fixes its name: the API id)."""
    return f"/aws/appsync/apis/{api_id}"


def role_policy_name(function_name: str) -> str:
    """The inline least-privilege policy of the function's execution role."""
    return f"{function_name}-least-privilege"


def log_subscription_name(function_name: str) -> str:
    """The subscription filter that streams the function's logs to the central stream."""
    return f"{function_name}-to-central-logs"


def on_failure_queue_name(function_name: str) -> str:
    """The queue that receives metadata of stream batches the function gave up on."""
    return f"{function_name}-on-failure"


def schedule_rule_name(function_name: str) -> str:
    """The EventBridge rule that runs a scheduled function."""
    return f"{function_name}-schedule"


def schedule_dlq_name(function_name: str) -> str:
    """The queue of scheduled invocations EventBridge could not deliver."""
    return f"{function_name}-schedule-dlq"


def dead_letter_queue_name(queue_name: str) -> str:
    """The dead-letter queue of a work queue."""
    return f"{queue_name}-dlq"
