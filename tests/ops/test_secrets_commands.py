"""`dmd secrets set|status`: what the operator types and sees, exit codes, and a value never shown."""

from __future__ import annotations

import json

import pytest

from aws_clients import AwsClients
from infra.stack_files import load_committed
from infra.synth import ResourceGraph
from ops.target import Target
from tests.ops.cli_output import flat, run_dmd, table_rows

PREFIX = "prd3292-local-us-east-1"
TOKEN = "s3cr3t-bitly-token-9f2c"
VALUE = json.dumps({"token": TOKEN})
STATUS_COLUMNS = ("name", "secret", "value", "value set", "last changed", "last accessed", "kms key")


@pytest.fixture
def local_target(
    declared_secrets: AwsClients, local_graph: ResourceGraph, monkeypatch: pytest.MonkeyPatch
) -> Target:
    """`--stack local` resolved to a moto holding the stack's secrets without values."""
    target = Target(stack="local", config=load_committed("local"), clients=declared_secrets)
    target.graph = local_graph  # the cached property's value, set ahead
    monkeypatch.setattr("ops.operator_io.resolve_target", lambda stack, **_: target)
    return target


def stored_value(target: Target, name: str) -> str | None:
    manager = target.clients.client("secretsmanager")
    try:
        return str(manager.get_secret_value(SecretId=f"{PREFIX}/{name}")["SecretString"])
    except manager.exceptions.ResourceNotFoundException:
        return None  # no current version: never set


def current_version(target: Target, name: str) -> str:
    described = target.clients.client("secretsmanager").describe_secret(SecretId=f"{PREFIX}/{name}")
    (version,) = [v for v, stages in described["VersionIdsToStages"].items() if "AWSCURRENT" in stages]
    return str(version)


def test_a_piped_value_is_stored_and_only_its_version_is_printed(local_target: Target) -> None:
    # Given the Bitly token piped in, with --yes
    # When the operator sets the secret
    result = run_dmd("secrets", "set", "--stack", "local", "bitly", "--yes", input=VALUE + "\n")

    # Then the secret holds exactly the piped JSON (the trailing newline dropped)
    assert result.exit_code == 0, result.output
    assert stored_value(local_target, "bitly") == VALUE
    # And stdout is the new version id, stderr says which secret; the token appears nowhere
    assert result.stdout.strip() == current_version(local_target, "bitly")
    assert f"{PREFIX}/bitly" in flat(result.stderr)
    assert TOKEN not in result.output


def test_the_json_answer_names_the_secret_and_its_new_version(local_target: Target) -> None:
    result = run_dmd(
        "secrets", "set", "--stack", "local", "publish", "--yes", "--json", input='{"apiKey": "k-1"}'
    )

    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert set(answer) == {"name", "secret", "arn", "versionId"}
    assert (answer["name"], answer["secret"]) == ("publish", f"{PREFIX}/publish")
    assert answer["versionId"] == current_version(local_target, "publish")
    assert "k-1" not in result.output


def test_a_piped_value_without_yes_is_refused_because_stdin_cannot_answer(local_target: Target) -> None:
    # When a value is piped without --yes
    result = run_dmd("secrets", "set", "--stack", "local", "bitly", input=VALUE)

    # Then nothing is stored, and the reason says to pass --yes
    assert result.exit_code == 2
    assert "needs --yes" in flat(result.stderr)
    assert stored_value(local_target, "bitly") is None
    assert TOKEN not in result.output


@pytest.mark.parametrize(
    ("piped", "reason"),
    [
        pytest.param('{"token": "s3cr3t-bitly-token-9f2c"', "the value is not JSON", id="bad-json"),
        pytest.param('{"apiKey": "s3cr3t-bitly-token-9f2c"}', "the value has no 'token'", id="missing-key"),
        pytest.param("s3cr3t-bitly-token-9f2c", "the value is not JSON", id="a-bare-token"),
        pytest.param("\n", "no value on stdin", id="empty"),
    ],
)
def test_a_value_the_worker_could_not_read_is_refused_and_never_echoed(
    local_target: Target, piped: str, reason: str
) -> None:
    # When the operator pipes a value Bitly's worker could not use
    result = run_dmd("secrets", "set", "--stack", "local", "bitly", "--yes", input=piped)

    # Then the command refuses it with the reason (bad input), stores nothing and never shows the value
    assert result.exit_code == 2, result.output
    assert reason in flat(result.stderr)
    assert result.stdout == ""
    assert TOKEN not in result.output
    assert stored_value(local_target, "bitly") is None


def test_an_unknown_secret_name_is_bad_input_listing_the_stacks_secrets(local_target: Target) -> None:
    result = run_dmd("secrets", "set", "--stack", "local", "twilio", "--yes", input=VALUE)

    assert result.exit_code == 2
    assert flat(result.stderr) == (
        "dmd: no secret 'twilio' in this stack (secrets: accounts, bitly, discovery, publish, sms-service)"
    )


def test_at_a_terminal_the_value_is_typed_twice_unechoed_then_confirmed(
    local_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an operator at a terminal
    monkeypatch.setattr("ops.secrets_commands._stdin_is_terminal", lambda: True)

    # When they type the value, repeat it, and agree
    result = run_dmd("secrets", "set", "--stack", "local", "bitly", input=f"{VALUE}\n{VALUE}\ny\n")

    # Then the value is stored; the prompt showed the expected shape, never what was typed
    assert result.exit_code == 0, result.output
    assert stored_value(local_target, "bitly") == VALUE
    assert '{"token": "…"}' in result.stderr
    assert "Replace the value of" in result.stderr
    assert TOKEN not in result.output


def test_at_a_terminal_declining_changes_nothing(
    local_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ops.secrets_commands._stdin_is_terminal", lambda: True)

    result = run_dmd("secrets", "set", "--stack", "local", "bitly", input=f"{VALUE}\n{VALUE}\nn\n")

    assert result.exit_code == 1
    assert "aborted: nothing changed" in flat(result.stderr)
    assert stored_value(local_target, "bitly") is None


def test_status_shows_which_secrets_hold_a_value(local_target: Target) -> None:
    # Given bitly set, the others as the program created them, accounts deleted from AWS
    run_dmd("secrets", "set", "--stack", "local", "bitly", "--yes", input=VALUE)
    local_target.clients.client("secretsmanager").delete_secret(
        SecretId=f"{PREFIX}/accounts", ForceDeleteWithoutRecovery=True
    )

    # When the operator asks for the status, as a table and as JSON
    shown = run_dmd("secrets", "status", "--stack", "local")
    answered = run_dmd("secrets", "status", "--stack", "local", "--json")

    # Then each secret says whether it has a value (or is missing), and no value is printed
    assert shown.exit_code == answered.exit_code == 0, shown.output
    rows = table_rows(shown.stdout, STATUS_COLUMNS)
    assert {name: row["value"] for name, row in rows.items()} == {
        "accounts": "missing",
        "bitly": "set",
        "discovery": "not set",
        "publish": "not set",
        "sms-service": "not set",
    }
    assert rows["bitly"]["kms key"] == "aws/secretsmanager"
    statuses = {status["name"]: status for status in json.loads(answered.stdout)}
    assert statuses["bitly"]["currentVersion"] == current_version(local_target, "bitly")
    assert (statuses["bitly"]["hasValue"], statuses["discovery"]["hasValue"]) == (True, False)
    assert statuses["accounts"]["exists"] is False
    assert statuses["sms-service"]["requiredKeys"] == ["apiKey"]
    assert set(statuses["bitly"]) == {
        "name",
        "secret",
        "exists",
        "hasValue",
        "currentVersion",
        "valueSetAt",
        "lastChanged",
        "lastAccessed",
        "kmsKey",
        "requiredKeys",
    }
    assert TOKEN not in shown.output + answered.output


def test_an_unknown_stack_is_bad_input() -> None:
    result = run_dmd("secrets", "status", "--stack", "qa9")

    assert result.exit_code == 2
    assert flat(result.stderr).startswith("dmd: unknown stack 'qa9'")
