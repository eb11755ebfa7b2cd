"""`dmd secrets`: the vendor credentials in Secrets Manager (runbook credential-rotation)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from ops.operator_io import (
    EXIT_BAD_INPUT,
    JsonOption,
    StackOption,
    YesOption,
    aws_errors,
    confirm,
    errors_console,
    fail,
    print_json,
    progress,
    show,
    table,
    target_for,
)
from ops.secrets import (
    WORKER_CACHE_SECONDS,
    SecretsError,
    checked_keys,
    example_value,
    put_value,
    secret_name,
    secret_status,
    stack_secrets,
)

app = typer.Typer(
    help="Vendor credentials in Secrets Manager: set a value, see which are set and when.",
    no_args_is_help=True,
)

STATUS_COLUMNS = ("name", "secret", "value", "value set", "last changed", "last accessed", "kms key")


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _read_value(name: str, secret: str, *, yes: bool) -> str:
    """The new value: all of stdin when piped (needs --yes), else typed twice at a hidden prompt."""
    if not _stdin_is_terminal():
        if not yes:
            fail("a piped value needs --yes (stdin holds the value, not an answer)", code=EXIT_BAD_INPUT)
        value = sys.stdin.read().rstrip("\r\n")
        if not value.strip():
            fail("no value on stdin", code=EXIT_BAD_INPUT)
        return value
    value = typer.prompt(
        f"Value of {secret} (JSON like {example_value(name)}, not echoed)",
        hide_input=True,
        confirmation_prompt=True,
        err=True,
    )
    return str(value)


@app.command("set")
def set_command(
    name: Annotated[
        str, typer.Argument(help="The secret: sms-service, bitly, discovery, accounts or publish.")
    ],
    stack: StackOption,
    yes: YesOption = False,
    json_output: JsonOption = False,
) -> None:
    """Put a new value into one of the stack's vendor secrets; prints the new version id.

    The value comes from stdin when it is piped (then --yes is required: stdin is the value, not
    an answer), otherwise from a prompt that does not echo and asks twice. It is never an
    argument, never printed and never logged. It must be a JSON object with the keys the workers
    read, each a non-empty string: sms-service, discovery, accounts and publish {"apiKey": "…"},
    bitly {"token": "…"}; a value without them is refused naming the missing key. Workers read a
    secret at most 5 minutes old, so the new value is in use within 5 minutes, without a deploy.

    JSON keys: {name, secret, arn, versionId}.

    Example: dmd secrets set --stack qa1 bitly

    Example: pass show dmd/qa1/bitly | dmd secrets set --stack qa1 bitly --yes --json
    """
    target = target_for(stack)
    with aws_errors(f"read the secrets of {stack}"), progress(f"reading {stack}'s graph", total=None):
        fleet = target.fleet
    try:
        secret = secret_name(fleet, name)
    except SecretsError as error:
        fail(str(error), code=EXIT_BAD_INPUT)
    value = _read_value(name, secret, yes=yes)
    try:
        keys = checked_keys(name, value)
    except SecretsError as error:
        fail(f"{secret}: {error}", code=EXIT_BAD_INPUT)
    confirm(
        [
            f"stack {stack}: new value for {secret} (keys: {', '.join(keys)})",
            f"the workers use it within {WORKER_CACHE_SECONDS // 60} minutes; the previous value stays "
            "as version AWSPREVIOUS",
        ],
        yes=yes,
        question=f"Replace the value of {secret}?",
    )
    with aws_errors(f"set {secret}"):
        version = put_value(target.clients, name=name, secret=secret, value=value)
    if json_output:
        print_json(version.model_dump())
        return
    errors_console().print(f"{secret}: new current version", markup=False, highlight=False)
    show(version.version_id)


@app.command("status")
def status_command(stack: StackOption, json_output: JsonOption = False) -> None:
    """Each vendor secret of the stack: has it a value, since when, when changed and read, its KMS key.

    Nothing reads a value: DescribeSecret (last changed, last accessed, KMS key) and
    ListSecretVersionIds (the current version and when it was stored). A secret the program created
    has no value until `dmd secrets set` gives it one; the workers that need it fail until then.
    "Last accessed" is a day (Secrets Manager rounds it); a secret not read for weeks may belong to a
    worker that no longer runs, or a rotation nobody verified. A secret missing from AWS shows
    "missing" (deploy the stack).

    JSON keys: a list of {name, secret, exists, hasValue, currentVersion, valueSetAt, lastChanged,
    lastAccessed, kmsKey, requiredKeys}; unknown values are null.

    Example: dmd secrets status --stack prod1
    """
    target = target_for(stack)
    with aws_errors(f"read the secrets of {stack}"):
        with progress(f"reading {stack}'s graph", total=None):
            secrets = stack_secrets(target.fleet)
        statuses = []
        with progress("secrets", total=len(secrets)) as advance:
            for name, secret in sorted(secrets.items()):
                statuses.append(secret_status(target.clients, name=name, secret=secret))
                advance(description=name)
    if json_output:
        print_json([status.model_dump() for status in statuses])
        return
    rows = [
        (
            status.name,
            status.secret,
            ("set" if status.has_value else "[bold red]not set[/bold red]")
            if status.exists
            else "[bold red]missing[/bold red]",
            _when(status.value_set_at),
            _when(status.last_changed),
            status.last_accessed.date().isoformat() if status.last_accessed else None,
            status.kms_key,
        )
        for status in statuses
    ]
    show(table(f"{stack}: vendor secrets", STATUS_COLUMNS, rows))


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
