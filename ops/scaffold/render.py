"""A worker's package, tests, catalog entry and stack block, rendered from ops/scaffold_templates/."""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Final

from ops.scaffold.edits import catalog_entry
from ops.scaffold.request import WorkerRequest, queue_source

TEMPLATES: Final = Path(__file__).parents[1] / "scaffold_templates"
# Each queue's job model (workers/shared/messages.py) and a job of event `E1` as its producer sends it.
QUEUE_JOBS: Final = {
    "short_url": ("ShortUrlJob", '{"eventId": "E1"}'),
    "generation": (
        "GenerationJob",
        "{\n"
        '    "eventId": "E1",\n'
        '    "saleId": "public",\n'
        '    "saleStartDateTime": "2026-12-01T18:00:00Z",\n'
        '    "windowStart": "2026-12-01T17:30:00Z",\n'
        '    "windowEnd": "2026-12-01T18:00:00Z",\n'
        "}",
    ),
}


def render(template: str, request: WorkerRequest) -> str:
    """A template of ops/scaffold_templates/ filled in for the worker, its first-party imports sorted."""
    job_model, job_body = QUEUE_JOBS.get(request.source, ("", ""))
    values = {
        "name": request.name,
        "pascal": request.pascal,
        "code": request.code,
        "description": request.description,
        "queue": request.source,
        "schedule": request.source,
        "field": request.source,
        "job_model": job_model,
        "job_body": job_body,
        "job_example": _job_example(request.source),
    }
    text = Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)
    return _sort_first_party_imports(text)


def _job_example(queue: str) -> str:
    if queue != "generation":
        return "ShortUrlJob(event_id=event_id)"
    # As ruff formats a call whose only argument is an exploded dict (inside `return`).
    body = QUEUE_JOBS["generation"][1].replace('"E1"', "event_id").replace("\n", "\n        ")
    return f"GenerationJob.model_validate(\n        {body}\n    )"


def _sort_first_party_imports(text: str) -> str:
    # The worker's own modules sort before or after workers.shared by its name, as ruff's isort does.
    lines = text.split("\n")
    start = 0
    while start < len(lines):
        if lines[start].startswith("from workers."):
            end = start
            while end < len(lines) and lines[end].startswith("from workers."):
                end += 1
            lines[start:end] = sorted(lines[start:end], key=lambda line: line.split()[1])
            start = end
        else:
            start += 1
    return "\n".join(lines)


def worker_files(request: WorkerRequest) -> dict[str, str]:
    """The new worker's package and tests, path (relative to the root) → text."""
    settings = "stream_settings.py.tmpl" if request.trigger == "stream" else "table_settings.py.tmpl"
    kind = request.template_set
    return {
        f"workers/{request.name}/__init__.py": render("package_init.py.tmpl", request),
        f"workers/{request.name}/handler.py": render(f"{kind}/handler.py.tmpl", request),
        f"workers/{request.name}/logic.py": render(f"{kind}/logic.py.tmpl", request),
        f"workers/{request.name}/models.py": render(f"{kind}/models.py.tmpl", request),
        f"workers/{request.name}/settings.py": render(settings, request),
        f"tests/workers/{request.name}/test_{request.name}_logic.py": render(
            f"{kind}/test_logic.py.tmpl", request
        ),
        f"tests/workers/{request.name}/test_{request.name}_handler.py": render(
            f"{kind}/test_handler.py.tmpl", request
        ),
    }


def catalog_entry_of(request: WorkerRequest) -> str:
    """The worker's WorkerSpec block for CATALOG."""
    table_read = "frozenset({Access.TABLE_READ})"
    source, access = {
        "queue": (queue_source(request.source), table_read),
        "stream": (f'StreamSource(stream="{request.source}")', "frozenset()"),
        "schedule": ("ScheduleSource()", table_read),
        "resolver": (f'ResolverSource(type_name="Query", field_name="{request.source}")', table_read),
    }[request.trigger]
    comment = None
    if request.shared_with:
        consumers = ", ".join(request.shared_with)
        comment = (
            f"Its mapping is disabled in every stack file: the queue has another consumer ({consumers})."
        )
    return catalog_entry(
        name=request.name,
        code=request.code,
        description=request.description,
        source=source,
        access=access,
        comment=comment,
    )


def stack_body(request: WorkerRequest) -> list[str]:
    """The lines of the worker's block under `dmd-workers:workers` (the same in every stack file)."""
    match request.trigger:
        case "queue":
            body = ["memoryMb: 512", "trigger:", "  batchSize: 10"]
            if request.shared_with:
                consumers = ", ".join(request.shared_with)
                body += [
                    f"  # SQS gives each message to one consumer: enabled, it takes jobs from {consumers}.",
                    "  enabled: false",
                ]
            return body
        case "stream":
            return [
                "memoryMb: 512",
                "trigger:",
                "  batchSize: 100",
                "  maximumRetryAttempts: 3",
                "  maximumRecordAgeSeconds: 3600",
            ]
        case "schedule":
            return ["memoryMb: 512", "trigger:", f"  scheduleExpression: {request.source}"]
        case _:
            return ["memoryMb: 512", "timeoutSeconds: 15"]
