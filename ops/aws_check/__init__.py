"""The post-deploy resource check (`dmd aws check`): what AWS holds, compared with what the program declares.

`findings` is the vocabulary; `comparisons` are pure (graph inputs and AWS answers as plain dicts
in, findings out); `deployed_state` is the only module that reads AWS; `stack_check` walks the graph
with one entry per resource type.
"""

from ops.aws_check.comparisons import (
    compare_account_concurrency,
    compare_alarm,
    compare_alias,
    compare_event_source_mapping,
    compare_function,
    compare_log_group,
    compare_queue,
    compare_rule,
    compare_stream,
    compare_subscription_filter,
    compare_table,
    source_name,
)
from ops.aws_check.deployed_state import AwsReadError, DeployedState
from ops.aws_check.findings import NOT_REPORTED, Finding, Status
from ops.aws_check.stack_check import (
    LIVE_ALIAS,
    CheckContext,
    check_account_concurrency,
    check_stack,
    checked_resources,
    unchecked_types,
)

__all__ = [
    "LIVE_ALIAS",
    "NOT_REPORTED",
    "AwsReadError",
    "CheckContext",
    "DeployedState",
    "Finding",
    "Status",
    "check_account_concurrency",
    "check_stack",
    "checked_resources",
    "compare_account_concurrency",
    "compare_alarm",
    "compare_alias",
    "compare_event_source_mapping",
    "compare_function",
    "compare_log_group",
    "compare_queue",
    "compare_rule",
    "compare_stream",
    "compare_subscription_filter",
    "compare_table",
    "source_name",
    "unchecked_types",
]
