"""Cold import time of the worker runtime against `import boto3`, in fresh interpreters (best of N)."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time

BASELINE = "import boto3"
RUNTIME = "import workers.shared.observability, workers.shared.records, workers.shared.repository"
WORKER = f"{RUNTIME}, workers.shared.settings, workers.shared.vendor_http"
TARGET_RATIO = 1.5
# Attribution: each step imported in order in one interpreter, timed in-process.
STEPS = (
    ("boto3", "import boto3"),
    ("pydantic", "from pydantic import BaseModel, Field, ConfigDict, AfterValidator, PlainSerializer"),
    ("powertools logger/metrics", "from aws_lambda_powertools import Logger, Metrics"),
    ("workers.shared.observability", "import workers.shared.observability"),
    ("workers.shared.models", "import workers.shared.models"),
    ("workers.shared.records", "import workers.shared.records"),
    ("workers.shared.repository", "import workers.shared.repository"),
    ("pydantic_settings", "import pydantic_settings"),
    ("settings + vendor_http", "import workers.shared.settings, workers.shared.vendor_http"),
)
_STEP_PROBE = """
import json, time
timings = {}
for name, statement in STEPS:
    started = time.perf_counter()
    exec(statement)
    timings[name] = time.perf_counter() - started
print(json.dumps(timings))
"""
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def best_wall_seconds(statement: str, runs: int) -> float:
    """Fastest wall time of `python -c statement` over `runs` fresh interpreters."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        best = min(best, time.perf_counter() - started)
    return best


def step_seconds(runs: int) -> dict[str, float]:
    """Best in-process time of each STEPS import (fresh interpreter per run)."""
    probe = f"STEPS = {STEPS!r}\n{_STEP_PROBE}"
    best: dict[str, float] = {}
    for _ in range(runs):
        output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        for name, seconds in json.loads(output.stdout).items():
            best[name] = min(best.get(name, float("inf")), seconds)
    return best


def heaviest_imports(statement: str, count: int) -> list[tuple[int, str]]:
    """Top-level modules by cumulative import time (microseconds) from `-X importtime`."""
    output = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement], capture_output=True, text=True, check=True
    ).stderr
    top = [
        (int(match[2]), match[4])
        for match in map(_IMPORT_LINE.match, output.splitlines())
        if match and not match[3]
    ]
    return sorted(top, reverse=True)[:count]


def main(argv: list[str] | None = None) -> int:
    """Print timings, ratios and attribution; with --check, fail above the target ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--check", action="store_true", help=f"exit 1 above {TARGET_RATIO}x boto3")
    arguments = parser.parse_args(argv)
    baseline = best_wall_seconds(BASELINE, arguments.runs)
    runtime = best_wall_seconds(RUNTIME, arguments.runs)
    worker = best_wall_seconds(WORKER, arguments.runs)
    print(f"import boto3                          {baseline:.3f} s")
    print(f"observability + records + repository  {runtime:.3f} s  {runtime / baseline:.2f}x")
    print(f"  + settings + vendor_http            {worker:.3f} s  {worker / baseline:.2f}x")
    steps = step_seconds(arguments.runs)
    print("attribution (in-process, best of runs, fraction of boto3):")
    for name, seconds in steps.items():
        print(f"  {seconds * 1000:7.1f} ms  {seconds / steps['boto3']:5.2f}  {name}")
    print("heaviest top-level imports of the runtime (-X importtime, cumulative):")
    for micros, module in heaviest_imports(RUNTIME, 5):
        print(f"  {micros / 1000:7.1f} ms  {module}")
    return 1 if arguments.check and runtime / baseline > TARGET_RATIO else 0


if __name__ == "__main__":
    sys.exit(main())
