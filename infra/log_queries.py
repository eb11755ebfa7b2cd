"""The runbook's Logs Insights queries: one definition for the console's saved queries and `dmd logs query`.

The queries read what the workers really write (docs/workers-runtime.md): Powertools JSON lines
(`level`, `message`, `service`, `correlation_id`, the Lambda context keys, each call's extras such
as the sender's `message_id` and `sale_to_send_seconds`) and, because the functions log in Lambda's
JSON format, the platform's records (`type = "platform.report"` with `record.metrics.*`; the text
format's `REPORT` lines and `@initDuration` do not exist in these log groups). Field names in
Insights are case-sensitive, and Powertools writes levels in capitals (`ERROR`, not `error`).

The program saves each one as `dmd-workers/<env>/<preset>` on the log groups of the workers it
applies to; the CLI runs the same text on the log groups it is asked for. A parameterised query
(`notification`) is saved with a placeholder the operator edits in the console; the CLI substitutes
`--id`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

QUERY_FOLDER: Final = "dmd-workers"
IDENTIFIER_SLOT: Final = "{id}"
# What the saved `notification` query carries until the operator types a real key or id.
ID_PLACEHOLDER: Final = "fan:FAN_ID|notification#EVENT_ID-SALE_ID#sms"
MAX_IDENTIFIER_LENGTH: Final = 300
# Quotes and backslashes would end the query's string literal; control characters have no place in an id.
_UNSAFE_IDENTIFIER: Final = re.compile(r'["\\\x00-\x1f]')


class LogQueryError(ValueError):
    """A preset or its parameter is not valid; the message says what is allowed."""


@dataclass(frozen=True, kw_only=True)
class LogQuery:
    """One saved Logs Insights query: its preset name, what it answers, its text and result columns."""

    preset: str
    title: str
    text: str  # Logs Insights QL; `{id}` where the query takes an identifier
    columns: tuple[str, ...]  # the result's fields, in display order (every one named in `text`)
    workers: tuple[str, ...] | None = None  # the workers whose log groups it reads; None: every worker
    # Whose logs: the workers' log groups, or the API's WAF log group (`platform.api.waf`).
    reads: Literal["workers", "api-waf"] = "workers"

    @property
    def takes_identifier(self) -> bool:
        """Whether the query needs an identifier (`--id`, or the placeholder in the console)."""
        return IDENTIFIER_SLOT in self.text

    def query_string(self, identifier: str | None = None) -> str:
        """The text to run; LogQueryError for a missing, unneeded or unsafe identifier."""
        if not self.takes_identifier:
            if identifier is not None:
                raise LogQueryError(f"the {self.preset} query takes no identifier")
            return self.text
        if identifier is None:
            raise LogQueryError(
                f"the {self.preset} query needs an identifier: a notification key "
                f"({ID_PLACEHOLDER}) or a correlation id"
            )
        return self.text.replace(IDENTIFIER_SLOT, checked_identifier(identifier))

    @property
    def console_text(self) -> str:
        """The text saved for the console (the identifier slot holds the placeholder to edit)."""
        return self.text.replace(IDENTIFIER_SLOT, ID_PLACEHOLDER)

    def saved_name(self, environment: str) -> str:
        """The console name, `dmd-workers/<env>/<preset>` (the console shows `/` as folders)."""
        return f"{QUERY_FOLDER}/{environment}/{self.preset}"

    def applies_to(self, worker: str) -> bool:
        """Whether the query reads this worker's log group."""
        return self.reads == "workers" and (self.workers is None or worker in self.workers)


def checked_identifier(identifier: str) -> str:
    """The identifier, stripped; LogQueryError when empty, too long or able to end a string literal."""
    value = identifier.strip()
    if not value:
        raise LogQueryError("the identifier is empty")
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise LogQueryError(f"the identifier is longer than {MAX_IDENTIFIER_LENGTH} characters")
    if _UNSAFE_IDENTIFIER.search(value):
        raise LogQueryError("the identifier may not contain quotes, backslashes or control characters")
    return value


ERRORS: Final = LogQuery(
    preset="errors",
    title="ERROR lines (message, correlation id, exception) and invocations that failed or timed out",
    text="""fields @timestamp, @log, level, message, correlation_id, exception_name, exception, record.status
| filter level in ["ERROR", "CRITICAL"] or (type = "platform.report" and record.status != "success")
| sort @timestamp desc
| limit 200""",
    columns=(
        "@timestamp",
        "@log",
        "level",
        "message",
        "correlation_id",
        "exception_name",
        "exception",
        "record.status",
    ),
)

SEND_LATENCY: Final = LogQuery(
    preset="send-latency",
    title="Sale-to-send seconds of sent notifications (from the send window's opening), per 5 minutes",
    text="""filter message = "Notification sent"
| stats count(*) as sent, avg(sale_to_send_seconds) as avg_seconds,
    pct(sale_to_send_seconds, 50) as p50_seconds, pct(sale_to_send_seconds, 90) as p90_seconds,
    pct(sale_to_send_seconds, 99) as p99_seconds, max(sale_to_send_seconds) as max_seconds
  by bin(5m)""",
    columns=("bin(5m)", "sent", "avg_seconds", "p50_seconds", "p90_seconds", "p99_seconds", "max_seconds"),
    workers=("notification_send",),
)

COLD_STARTS: Final = LogQuery(
    preset="cold-starts",
    title="Invocations, cold starts and init duration per function, per 5 minutes (the platform's reports)",
    text="""filter type = "platform.report"
| stats count(*) as invocations, count(record.metrics.initDurationMs) as cold_starts,
    avg(record.metrics.initDurationMs) as avg_init_ms, max(record.metrics.initDurationMs) as max_init_ms,
    max(record.metrics.maxMemoryUsedMB) as max_memory_mb
  by bin(5m), @log""",
    columns=("bin(5m)", "@log", "invocations", "cold_starts", "avg_init_ms", "max_init_ms", "max_memory_mb"),
)

NOTIFICATION: Final = LogQuery(
    preset="notification",
    title="Every line of one notification key or correlation id, across the workers, oldest first",
    text="""fields @timestamp, @log, level, message, correlation_id, status, message_id, reason, record_id
| filter correlation_id = "{id}" or @message like "{id}"
| sort @timestamp asc
| limit 1000""",
    columns=(
        "@timestamp",
        "@log",
        "level",
        "message",
        "correlation_id",
        "status",
        "message_id",
        "reason",
        "record_id",
    ),
)

# The WAF's own log records (docs: "Log fields for web ACL traffic"): `action`, `terminatingRuleId`
# (the web ACL's rule: a managed group's name in the ACL, `rate-limit-per-ip`, `body-size-limit`),
# `httpRequest.clientIp`/`country`, and per managed group a `ruleGroupList` entry whose
# `terminatingRule` names the group's rule that blocked (null for the groups that did not): the
# first `"terminatingRule":{"ruleId":"…"` in the line is that rule.
WAF_BLOCKS: Final = LogQuery(
    preset="waf-blocks",
    title="Requests the API's WAF blocked, by rule (and managed rule), client IP and country, most first",
    text="""parse @message '"terminatingRule":{"ruleId":"*"' as managed_rule
| filter action = "BLOCK"
| stats count(*) as blocked by terminatingRuleId, managed_rule, httpRequest.clientIp, httpRequest.country
| sort blocked desc
| limit 100""",
    columns=("terminatingRuleId", "managed_rule", "httpRequest.clientIp", "httpRequest.country", "blocked"),
    reads="api-waf",
)

LOG_QUERIES: Final[tuple[LogQuery, ...]] = (ERRORS, SEND_LATENCY, COLD_STARTS, NOTIFICATION)
"""The presets over the workers' log groups (saved with the fleet's dashboard)."""
WAF_QUERIES: Final[tuple[LogQuery, ...]] = (WAF_BLOCKS,)
"""The presets over the API's WAF log group (saved with the web ACL, when the stack has one)."""
PRESETS: Final[tuple[str, ...]] = tuple(query.preset for query in (*LOG_QUERIES, *WAF_QUERIES))


def log_query(preset: str) -> LogQuery:
    """The query of a preset; LogQueryError lists the presets."""
    for query in (*LOG_QUERIES, *WAF_QUERIES):
        if query.preset == preset:
            return query
    raise LogQueryError(f"no preset {preset!r} (presets: {', '.join(PRESETS)})")


def log_groups_for(query: LogQuery, log_groups: Sequence[tuple[str, str]]) -> list[str]:
    """The log groups among (worker, log group) pairs that the query reads, in their order."""
    return [group for worker, group in log_groups if query.applies_to(worker)]
