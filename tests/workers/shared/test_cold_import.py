"""Cold import: what a worker's import must not pull in (the costly, conditional parts stay lazy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

LAZY_PACKAGES = (
    "opentelemetry",  # only with a collector endpoint, at the first span
    "aws_lambda_powertools.utilities.parser",  # never: records parse with our own models
    "aws_lambda_powertools.utilities.batch",  # at the first process_batch call
    "aws_lambda_powertools.utilities.parameters",  # at the first secret read
    "pydantic_settings",  # only workers' settings modules import it
    "mypy_boto3_dynamodb",  # type stubs, TYPE_CHECKING only
)


def test_importing_the_runtime_leaves_conditional_dependencies_unloaded() -> None:
    # Given a fresh interpreter with no collector configured
    code = (
        "import json, sys\n"
        "import workers.shared.observability, workers.shared.records, workers.shared.repository\n"
        "import workers.shared.clients, workers.shared.vendor_http, workers.shared.models\n"
        f"prefixes = {LAZY_PACKAGES!r}\n"
        "loaded = [p for p in prefixes if any(n == p or n.startswith(p + '.') for n in sys.modules)]\n"
        "print(json.dumps(loaded))\n"
    )
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_EXPORTER")}

    # When the runtime modules a worker uses are imported
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )

    # Then none of the lazily loaded packages is there yet
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
