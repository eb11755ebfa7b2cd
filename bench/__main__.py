"""`make bench`: benchmarks as ratios against a baseline measured in the same run."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from bench.cold_import import cold_imports
from bench.pipeline_bench import pipeline_vs_boto3
from bench.workers_bench import generator_vs_boto3
from infra.catalog import CATALOG
from infra.offline import synthesize_stack
from infra.stack_files import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "RESULTS.md"


@dataclass(frozen=True)
class Result:
    """One benchmark: what was measured against which baseline."""

    name: str
    measured_seconds: float
    baseline_name: str
    baseline_seconds: float
    notes: str
    detail: str = ""  # markdown under the table

    @property
    def ratio(self) -> float:
        return self.measured_seconds / self.baseline_seconds


def best_of(runs: int, action: Callable[[], object]) -> float:
    """Best wall time of `runs` runs (the least disturbed by the rest of the machine)."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return min(timings)


def synth_prod1(runs: int) -> Result:
    """Synthesizing prod1 vs registering the same resources without components."""
    graph = synthesize_stack("prod1")
    measured = best_of(runs, lambda: synthesize_stack("prod1"))
    baseline = _raw_baseline(graph.to_json(), runs)
    return Result(
        f"synth prod1 ({len(CATALOG)} workers)",
        measured,
        "same resources, no components",
        baseline,
        f"{len(graph.resources)} resources",
    )


def synth_fleet(workers: int, runs: int) -> Result:
    """A generated fleet of `workers` through the real components vs the same resources raw."""
    os.environ["DMD_BENCH_WORKERS"] = str(workers)
    program = PROJECT_ROOT / "bench" / "fleet_program.py"
    graph = synthesize_stack("prod1", program=program)
    measured = best_of(runs, lambda: synthesize_stack("prod1", program=program))
    baseline = _raw_baseline(graph.to_json(), runs)
    return Result(
        f"synth generated {workers}-worker stack",
        measured,
        "same resources, no components",
        baseline,
        f"{len(graph.resources)} resources",
    )


def worker_imports(runs: int) -> list[Result]:
    """Each worker's handler import vs `import boto3`, fresh interpreters, in-process time."""
    baseline, workers = cold_imports(runs)
    return [
        Result(f"cold import {name}", seconds, "import boto3", baseline, "target ≤ 1.5×")
        for name, seconds in workers.items()
    ]


def generator(fans: int) -> Result:
    """The generator creating `fans` notifications vs bare boto3 conditional writes, same parallelism."""
    measured, baseline, created = generator_vs_boto3(fans)
    return Result(
        f"generator, {fans:,} fans (moto server)",
        measured,
        "bare boto3 conditional PutItem loop, 16 threads",
        baseline,
        f"{created:,} notifications created; {created / measured:,.0f}/s",
    )


def pipeline(fans: int, deadline_seconds: float) -> Result:
    """A sale with `fans` fans through the sandbox vs bare boto3 producing the same notifications."""
    bench = pipeline_vs_boto3(
        fans, out_dir=PROJECT_ROOT / "build" / "bench", deadline_seconds=deadline_seconds, console=Console()
    )
    return Result(
        f"pipeline, {fans:,}-fan sale (sandbox, speed 1)",
        bench.pipeline_seconds,
        "bare boto3, same notifications and minimum calls, same emulator",
        bench.baseline_seconds,
        f"{bench.notifications:,} notifications ({bench.delivered:,} delivered, {bench.failed:,} failed); "
        f"{bench.throughput:,.1f} notifications/s; AWS calls per delivered notification: workers "
        f"{bench.worker_calls_per_delivered:.2f}, with the sandbox's pollers and CDC "
        f"{bench.all_calls_per_delivered:.2f}, baseline {bench.baseline_calls_per_delivered:.2f}",
        detail=bench.markdown(),
    )


def _raw_baseline(graph_json: str, runs: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "graph.json"
        path.write_text(graph_json, encoding="utf-8")
        os.environ["DMD_BENCH_GRAPH"] = str(path)
        program = PROJECT_ROOT / "bench" / "raw_program.py"
        return best_of(runs, lambda: synthesize_stack("prod1", program=program))


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kb = int(meminfo.read_text(encoding="utf-8").split()[1])
        memory = f", {total_kb / 1024 / 1024:.0f} GiB"
    return f"{os.cpu_count()} cores ({cpu}){memory}, Python {platform.python_version()}, {platform.system()}"


def kept_rows(previous: str, rerun: set[str]) -> list[str]:
    """Table rows of an earlier RESULTS.md for benchmarks this run did not repeat, marked with their run."""
    header = next((line for line in previous.splitlines() if line.startswith("Last run: ")), "")
    when = header.removeprefix("Last run: ").split(" on ", 1)[0] or "an earlier run"
    rows = []
    for line in previous.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if (
            not line.startswith("| ")
            or len(cells) != 5
            or cells[0] in ("benchmark", "---")
            or cells[0] in rerun
        ):
            continue
        note = cells[4].split(" (measured ", 1)[0]
        rows.append(f"| {' | '.join(cells[:4])} | {note} (measured {when}) |")
    return rows


def report(results: list[Result], kept: list[str] | None = None) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    lines = [
        "# Benchmark results",
        "",
        f"Last run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} at commit "
        f"`{commit or 'unknown'}` on {machine()}.",
        "Ratios compare against a baseline measured in the same run (best of N).",
        "",
        "| benchmark | measured | baseline | ratio | notes |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.name} | {r.measured_seconds:.3f} s | {r.baseline_name}: {r.baseline_seconds:.3f} s | "
        f"{r.ratio:.2f}× | {r.notes} |"
        for r in results
    ]
    lines += kept or []
    lines += [f"\n{r.detail}" for r in results if r.detail]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fleet-workers", type=int, default=200)
    parser.add_argument("--fans", type=int, default=50_000, help="fans of the generator benchmark")
    parser.add_argument(
        "--pipeline-fans", type=int, default=50_000, help="fans of the pipeline benchmark's sale"
    )
    parser.add_argument(
        "--pipeline-deadline",
        type=float,
        default=7200.0,
        help="real seconds the pipeline run may take before the benchmark fails",
    )
    parser.add_argument(
        "--only",
        choices=["synth", "imports", "generator", "pipeline"],
        action="append",
        help="run only these groups",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    groups = set(args.only or ["synth", "imports", "generator", "pipeline"])
    results: list[Result] = []
    benchmarks: list[tuple[str, str, Callable[[], list[Result]]]] = [
        ("synth", "synth prod1", lambda: [synth_prod1(args.runs)]),
        (
            "synth",
            f"synth {args.fleet_workers}-worker fleet",
            lambda: [synth_fleet(args.fleet_workers, args.runs)],
        ),
        ("imports", "cold imports", lambda: worker_imports(max(args.runs, 5))),
        ("generator", f"generator ({args.fans:,} fans)", lambda: [generator(args.fans)]),
        (
            "pipeline",
            f"pipeline ({args.pipeline_fans:,} fans)",
            lambda: [pipeline(args.pipeline_fans, args.pipeline_deadline)],
        ),
    ]
    for group, label, run in benchmarks:
        if group not in groups:
            continue
        print(f"running {label} …", flush=True)
        for result in run():
            print(
                f"  {result.name}: {result.measured_seconds:.3f} s vs {result.baseline_name} "
                f"{result.baseline_seconds:.3f} s → ratio {result.ratio:.2f}× ({result.notes})",
                flush=True,
            )
            results.append(result)
    # A partial run (--only) keeps the other rows of the last full run, marked with when they ran.
    kept = kept_rows(RESULTS.read_text(encoding="utf-8"), {r.name for r in results}) if args.only else []
    text = report(results, kept)
    print(text)
    if not args.no_write:
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
