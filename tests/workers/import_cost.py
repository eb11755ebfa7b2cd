"""What importing a handler module loads: the cold-start contract of every worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# Loaded only when needed: the collector, Powertools' parser models, batch and parameters utilities
# (first batch, first secret), and type stubs. pydantic_settings is expected: settings import it.
LAZY_PACKAGES = (
    "opentelemetry",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.parameters",
    "mypy_boto3_dynamodb",
    "mypy_boto3_sqs",
)
_PROBE = """
import json, sys
import {module}
from workers.shared import clients
prefixes = {prefixes!r}
loaded = sorted(p for p in prefixes if any(n == p or n.startswith(p + ".") for n in sys.modules))
factories = ("dynamodb", "sqs", "ses", "sts", "secretsmanager", "secrets_provider", "http_pool")
built = sorted(f for f in factories if getattr(clients, f).cache_info().currsize)
print(json.dumps({{"loaded": loaded, "built": built}}))
"""


def import_footprint(module: str) -> dict[str, list[str]]:
    """Lazy packages loaded and client factories built by importing `module` in a fresh interpreter."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_EXPORTER")}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module, prefixes=LAZY_PACKAGES)],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    footprint: dict[str, list[str]] = json.loads(result.stdout.strip().splitlines()[-1])
    return footprint
