"""The runbook's Logs Insights queries as data: presets, their columns, the identifier slot and its guard."""

from __future__ import annotations

import re

import pytest

from infra.log_queries import (
    ID_PLACEHOLDER,
    LOG_QUERIES,
    NOTIFICATION,
    PRESETS,
    WAF_BLOCKS,
    WAF_QUERIES,
    LogQuery,
    LogQueryError,
    log_groups_for,
    log_query,
)

KEY = "fan:123|notification#E1-S1#sms"


def test_the_presets_are_the_runbooks_four_and_the_waf_review() -> None:
    # Given the saved queries
    # Then they are the four over the workers' logs the runbook names, in its order, then the WAF's
    assert PRESETS == ("errors", "send-latency", "cold-starts", "notification", "waf-blocks")
    assert [query.preset for query in LOG_QUERIES] == list(PRESETS[:4])
    assert [query.preset for query in WAF_QUERIES] == ["waf-blocks"]


def _produced(text: str) -> tuple[str, ...]:
    """The fields a query's rows hold: its `fields` list, or its `stats` groups then aliases."""
    if text.startswith("fields "):
        return tuple(name.strip() for name in text.splitlines()[0].removeprefix("fields ").split(","))
    stats = text[text.index("stats ") :]  # a `parse … as x` before the stats is not a column of its own
    groups = re.search(r"\bby (.+)$", stats, flags=re.MULTILINE)
    assert groups is not None
    return (*(name.strip() for name in groups.group(1).split(",")), *re.findall(r"\bas (\w+)", stats))


@pytest.mark.parametrize("query", [*LOG_QUERIES, *WAF_QUERIES], ids=PRESETS)
def test_the_columns_are_the_fields_the_query_produces_in_order(query: LogQuery) -> None:
    # Given a preset and the columns it promises (the CLI's table, the client-side evaluation)
    # Then they are exactly what its text yields
    assert query.columns == _produced(query.text)


def test_the_notification_query_needs_an_identifier_and_takes_it_verbatim() -> None:
    # Given the parameterised query
    # When it is asked for without, then with, a notification key
    with pytest.raises(LogQueryError, match="the notification query needs an identifier"):
        NOTIFICATION.query_string()
    text = NOTIFICATION.query_string(f"  {KEY} ")

    # Then the key (trimmed) is in both of its string literals, and the saved text holds the placeholder
    assert text.count(f'"{KEY}"') == 2
    assert "{id}" not in text
    assert NOTIFICATION.console_text.count(f'"{ID_PLACEHOLDER}"') == 2


@pytest.mark.parametrize(
    ("identifier", "reason"),
    [
        ('x" or level = "INFO', "may not contain quotes"),
        ("a\\b", "may not contain quotes, backslashes"),
        ("line\nbreak", "control characters"),
        ("", "the identifier is empty"),
        ("x" * 301, "longer than 300 characters"),
    ],
)
def test_an_identifier_that_could_change_the_query_is_refused(identifier: str, reason: str) -> None:
    # Given an identifier that would end the string literal, or is empty or huge
    # When the query is built with it
    # Then it is refused with the reason
    with pytest.raises(LogQueryError, match=reason):
        NOTIFICATION.query_string(identifier)


def test_the_other_presets_take_no_identifier() -> None:
    # Given the presets without a slot
    # When one is given an identifier
    # Then it is refused, and without one the text is the saved one
    for query in (*LOG_QUERIES, *WAF_QUERIES):
        if query is NOTIFICATION:
            continue
        with pytest.raises(LogQueryError, match=f"the {query.preset} query takes no identifier"):
            query.query_string(KEY)
        assert query.query_string() == query.console_text == query.text


def test_a_preset_is_found_by_name_and_an_unknown_one_lists_them() -> None:
    # Given the names an operator may type
    # Then a known one gives its query, an unknown one the list
    assert log_query("cold-starts").preset == "cold-starts"
    with pytest.raises(
        LogQueryError,
        match=r"no preset 'slow' \(presets: errors, send-latency, cold-starts, notification, waf-blocks\)",
    ):
        log_query("slow")


def test_saved_names_and_log_groups_follow_the_stack_and_the_workers_read() -> None:
    # Given two workers' log groups
    groups = [("notification_send", "/aws/lambda/a"), ("sms_status_consumer", "/aws/lambda/b")]

    # Then send-latency reads the sender's only, the others every group; names carry the stack
    assert log_groups_for(log_query("send-latency"), groups) == ["/aws/lambda/a"]
    assert log_groups_for(log_query("errors"), groups) == ["/aws/lambda/a", "/aws/lambda/b"]
    assert log_query("errors").saved_name("qa1") == "dmd-workers/qa1/errors"


def test_the_waf_query_reads_no_worker_and_counts_blocks_by_rule_and_client() -> None:
    # Given the WAF review preset and two workers' log groups
    groups = [("notification_send", "/aws/lambda/a"), ("event_details", "/aws/lambda/b")]

    # Then it reads the WAF's log group, never a worker's, and ranks blocked requests per rule and IP
    assert WAF_BLOCKS.reads == "api-waf"
    assert log_groups_for(WAF_BLOCKS, groups) == []
    assert not WAF_BLOCKS.applies_to("event_details")
    assert 'filter action = "BLOCK"' in WAF_BLOCKS.text
    assert WAF_BLOCKS.text.splitlines()[-2:] == ["| sort blocked desc", "| limit 100"]
    assert log_query("waf-blocks").saved_name("prod1") == "dmd-workers/prod1/waf-blocks"
