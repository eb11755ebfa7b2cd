"""What every operator command shares: times, ages, one-line failures, confirmation, JSON, target errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
import typer
from typer.testing import CliRunner

from ops.operator_io import confirm, fail, format_age, parse_time, print_json, target_for

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", NOW - timedelta(seconds=90)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2h", NOW - timedelta(hours=2)),
        ("1d", NOW - timedelta(days=1)),
        (" 15m ", NOW - timedelta(minutes=15)),
        ("2026-11-30T22:15:00Z", datetime(2026, 11, 30, 22, 15, tzinfo=UTC)),
        ("2026-11-30T22:15:00", datetime(2026, 11, 30, 22, 15, tzinfo=UTC)),
        ("2026-11-30T17:15:00-05:00", datetime(2026, 11, 30, 22, 15, tzinfo=UTC)),
        ("2026-11-30", datetime(2026, 11, 30, tzinfo=UTC)),
    ],
)
def test_a_time_is_an_iso_moment_or_a_duration_back_from_now(text: str, expected: datetime) -> None:
    parsed = parse_time(text, now=NOW)
    assert parsed == expected
    assert parsed.tzinfo is not None


def test_an_offset_is_kept_as_given() -> None:
    parsed = parse_time("2026-11-30T17:15:00-05:00", now=NOW)
    assert parsed.utcoffset() == timezone(timedelta(hours=-5)).utcoffset(None)


@pytest.mark.parametrize("text", ["", "yesterday", "30", "m", "-5m", "1.5h", "30w", "2026-13-01"])
def test_anything_else_names_the_option_and_the_forms(text: str) -> None:
    with pytest.raises(typer.BadParameter) as raised:
        parse_time(text, now=NOW, option="--to")
    assert raised.value.param_hint == "--to"
    assert "neither an ISO-8601 time (2026-12-01T08:00:00Z) nor a duration (30m, 2h, 1d)" in str(raised.value)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "-"),
        (0, "0s"),
        (42.9, "42s"),
        (59, "59s"),
        (60, "1m"),
        (7 * 60 + 59, "7m"),
        (3599, "59m"),
        (3600, "1h 0m"),
        (3 * 3600 + 5 * 60, "3h 5m"),
        (86_399, "23h 59m"),
        (86_400, "1d 0h"),
        (2 * 86_400 + 4 * 3600 + 59, "2d 4h"),
    ],
)
def test_an_age_is_short_and_human(seconds: float | None, shown: str) -> None:
    assert format_age(seconds) == shown


def _command_app(body: typer.models.CommandFunctionType) -> typer.Typer:
    app = typer.Typer()
    app.command()(body)
    return app


def test_fail_prints_one_line_on_stderr_and_exits_with_the_code() -> None:
    # Given a command that fails with a reason spanning markup-like text
    def command() -> None:
        fail("cannot read [queue] prd3292-qa1-us-east-1-event-short-url-dlq: AccessDenied", code=2)

    # When it runs
    result = CliRunner().invoke(_command_app(command), [])

    # Then stderr holds exactly that line (no markup interpreted), stdout nothing, exit 2
    assert result.exit_code == 2
    assert (
        result.stderr == "dmd: cannot read [queue] prd3292-qa1-us-east-1-event-short-url-dlq: AccessDenied\n"
    )
    assert result.stdout == ""


def test_fail_exits_1_by_default() -> None:
    result = CliRunner().invoke(_command_app(lambda: fail("refusing: prod1 is a production stack")), [])
    assert result.exit_code == 1
    assert result.stderr.strip() == "dmd: refusing: prod1 is a production stack"


def _confirming(yes: bool) -> typer.Typer:
    def command() -> None:
        confirm(["delete 3 items", "  demand: 3"], yes=yes, question="Delete these 3 items?")
        typer.echo("done")

    return _command_app(command)


def test_confirm_with_yes_shows_the_plan_and_does_not_ask() -> None:
    result = CliRunner().invoke(_confirming(yes=True), [])
    assert result.exit_code == 0
    assert result.stdout == "done\n"
    assert "delete 3 items" in result.stderr and "Delete these 3 items?" not in result.stderr


def test_confirm_goes_ahead_on_y() -> None:
    result = CliRunner().invoke(_confirming(yes=False), [], input="y\n")
    assert result.exit_code == 0
    # (the runner echoes the typed answer to stdout, as a terminal would show it)
    assert result.stdout.endswith("done\n")
    assert "Delete these 3 items? [y/N]" in result.stderr


@pytest.mark.parametrize("answer", ["n\n", "\n", None], ids=["no", "enter (default no)", "stdin closed"])
def test_confirm_stops_on_no_or_no_answer(answer: str | None) -> None:
    # When the operator declines, presses Enter, or stdin has nothing to read
    result = CliRunner().invoke(_confirming(yes=False), [], input=answer)

    # Then nothing after the question ran and it exits 1 with the reason
    assert result.exit_code == 1
    assert "done" not in result.stdout
    assert "dmd: aborted: nothing changed (pass --yes to skip the question)" in result.stderr


def test_print_json_writes_utc_times_durations_and_sorted_keys(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a document with an aware datetime in another zone, a duration, a set and a tuple
    document = {
        "startedAt": datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=1))),
        "age": timedelta(minutes=2, seconds=3),
        "workers": {"b", "a"},
        "pair": ("x", 1),
    }

    # When it is printed
    print_json(document)

    # Then it is one JSON document on stdout: UTC with a Z, seconds, sorted lists, sorted keys
    out = capsys.readouterr().out
    assert json.loads(out) == {
        "age": 123.0,
        "pair": ["x", 1],
        "startedAt": "2026-12-01T08:30:00Z",
        "workers": ["a", "b"],
    }
    assert out.index('"age"') < out.index('"pair"') < out.index('"startedAt"')


def test_print_json_refuses_what_it_cannot_write() -> None:
    with pytest.raises(TypeError, match="not JSON serializable: object"):
        print_json({"thing": object()})


def test_target_for_an_unknown_stack_exits_2_with_the_reason() -> None:
    result = CliRunner().invoke(_command_app(lambda: target_for("qa9")), [])
    assert result.exit_code == 2
    assert result.stderr.strip() == "dmd: unknown stack 'qa9' (stacks: local, prod1, qa1)"
