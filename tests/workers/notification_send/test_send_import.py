"""Importing the sender's handler is cheap: no client, no OpenTelemetry, no lazy Powertools parts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

LAZY_PACKAGES = (
    "opentelemetry",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.parameters",
    "mypy_boto3_ses",
)


@pytest.mark.slow  # a fresh interpreter
def test_importing_the_handler_builds_no_client_and_leaves_lazy_packages_unloaded() -> None:
    # Given a fresh interpreter without an environment for the worker
    code = (
        "import json, sys\n"
        "import workers.notification_send.handler\n"
        "from workers.shared import clients\n"
        f"prefixes = {LAZY_PACKAGES!r}\n"
        "loaded = [p for p in prefixes if any(n == p or n.startswith(p + '.') for n in sys.modules)]\n"
        "factories = (clients.dynamodb, clients.ses, clients.sts, clients.secretsmanager,\n"
        "             clients.http_pool)\n"
        "built = [f.__name__ for f in factories if f.cache_info().currsize]\n"
        "print(json.dumps({'loaded': loaded, 'built': built}))\n"
    )
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_EXPORTER")}

    # When the handler module is imported
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )

    # Then nothing lazy was loaded and no AWS client or connection pool was built
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"loaded": [], "built": []}
