"""A `dmd workers create` request: name, trigger, code and source, checked against the project."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, get_args

from pydantic import ValidationError

from infra.catalog import QueueName, StreamName
from infra.config import ScheduleTriggerSettings
from infra.naming import Naming
from infra.stack_files import committed_stacks, stack_file_values
from ops.scaffold.edits import CatalogWorker, ScaffoldError, catalog_workers

Trigger = Literal["queue", "stream", "schedule", "resolver"]
TRIGGERS: Final[tuple[str, ...]] = get_args(Trigger)
QUEUES: Final[tuple[str, ...]] = get_args(QueueName)
STREAMS: Final[tuple[str, ...]] = get_args(StreamName)
CATALOG_FILE: Final = "infra/catalog.py"
SCHEMA_FILE: Final = "infra/schema.graphql"
DEFAULT_SCHEDULE: Final = "rate(1 hour)"
NAME_PATTERN: Final = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
CODE_PATTERN: Final = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
FIELD_PATTERN: Final = re.compile(r"^[a-z][A-Za-z0-9]*$")
# Keep every generated line within ruff's 110 characters (the templates are written for these bounds).
MAX_NAME_LENGTH: Final = 30
MAX_DESCRIPTION_LENGTH: Final = 80
# IAM role names are at most 64 characters; a worker's roles are named after its function
# (`prd3292-{env}-{region}-{code}`, plus `-logs` / `-appsync`).
ROLE_NAME_LIMIT: Final = 64
RESERVED_NAMES: Final = frozenset({"shared"})


@dataclass(frozen=True, kw_only=True)
class WorkerRequest:
    """A validated `dmd workers create`."""

    name: str
    trigger: Trigger
    code: str
    source: str  # the queue, the stream, the schedule expression or the resolver's field
    description: str
    shared_with: tuple[str, ...] = ()  # queue workers: the queue's other consumers (mapping disabled)

    @property
    def pascal(self) -> str:
        """The name in PascalCase (class names)."""
        return "".join(part.capitalize() for part in self.name.split("_"))

    @property
    def answer_type(self) -> str:
        """A resolver's GraphQL answer type."""
        return f"{self.pascal}Answer"

    @property
    def template_set(self) -> str:
        """The folder of ops/scaffold_templates/ rendered for this worker."""
        return f"stream_{self.source}" if self.trigger == "stream" else self.trigger

    def describe(self) -> str:
        """The worker's trigger as `dmd workers list` shows it."""
        match self.trigger:
            case "queue":
                return f"queue {self.source}"
            case "stream":
                return f"stream {self.source}"
            case "schedule":
                return "schedule"
            case "resolver":
                return f"AppSync Query.{self.source}"


def validate_request(
    root: Path,
    *,
    name: str,
    trigger: str,
    code: str,
    source: str | None,
    description: str | None,
) -> WorkerRequest:
    """The request checked against the project at `root`; ScaffoldError names what is wrong."""
    if not NAME_PATTERN.match(name) or keyword.iskeyword(name) or len(name) > MAX_NAME_LENGTH:
        raise ScaffoldError(
            f"{name!r} is not a worker name: snake_case letters and digits, starting with a letter, "
            f"at most {MAX_NAME_LENGTH} characters (e.g. fan_digest)"
        )
    if trigger not in TRIGGERS:
        raise ScaffoldError(f"--trigger {trigger!r}: use one of {', '.join(TRIGGERS)}")
    catalog = catalog_workers(read_project_file(root, CATALOG_FILE))
    if name in catalog or name in RESERVED_NAMES:
        raise ScaffoldError(f"{name!r} is already a worker of the catalog (or reserved)")
    for folder in (f"workers/{name}", f"tests/workers/{name}"):
        if (root / folder).exists():
            raise ScaffoldError(f"{folder} exists already")
    _check_code(root, code, catalog)
    checked = _checked_source(root, trigger, name, source)
    if description is not None and (
        not description.strip() or len(description) > MAX_DESCRIPTION_LENGTH or not description.isprintable()
    ):
        raise ScaffoldError(f"--description: one line of at most {MAX_DESCRIPTION_LENGTH} characters")
    shared_with = tuple(
        worker.name
        for worker in catalog.values()
        if trigger == "queue" and worker.source == queue_source(checked)
    )
    return WorkerRequest(
        name=name,
        trigger=trigger,  # type: ignore[arg-type]  # checked against TRIGGERS above
        code=code,
        source=checked,
        description=description or _default_description(trigger, checked),
        shared_with=shared_with,
    )


def _check_code(root: Path, code: str, catalog: dict[str, CatalogWorker]) -> None:
    if not CODE_PATTERN.match(code):
        raise ScaffoldError(
            f"--code {code!r}: an inventory code is lower-case letters and digits in dash-separated parts "
            "(like ntfcn-snd or dmnd-stream-to-sqs)"
        )
    owners = {worker.code: worker.name for worker in catalog.values()}
    if code in owners:
        raise ScaffoldError(f"--code {code!r} is {owners[code]}'s already")
    for stack in committed_stacks(root):
        # The raw values, not the validated config: this process's catalog may predate the files.
        values = stack_file_values(stack, root)
        naming = Naming(
            environment=str(values.get("environment", stack)), region=str(values.get("region", ""))
        )
        longest = max(
            (
                naming.function_name(code),
                naming.log_delivery_role_name(code),
                naming.resolver_role_name(code),
            ),
            key=len,
        )
        if len(longest) > ROLE_NAME_LIMIT:
            allowed = len(code) - (len(longest) - ROLE_NAME_LIMIT)
            raise ScaffoldError(
                f"--code {code!r} is too long: {longest} ({stack}) would pass IAM's "
                f"{ROLE_NAME_LIMIT}-character limit; use at most {allowed} characters"
            )


def _checked_source(root: Path, trigger: str, name: str, source: str | None) -> str:
    match trigger:
        case "queue" | "stream":
            choices = QUEUES if trigger == "queue" else STREAMS
            if source not in choices:
                raise ScaffoldError(f"--source: a {trigger} worker reads one of {', '.join(choices)}")
            return source
        case "schedule":
            expression = source or DEFAULT_SCHEDULE
            try:
                ScheduleTriggerSettings.model_validate({"scheduleExpression": expression})
            except ValidationError as error:
                reason = error.errors(include_url=False)[0]["msg"]
                raise ScaffoldError(f"--source {expression!r}: {reason}") from None
            return expression
        case _:
            field = source or _camel(name)
            if not FIELD_PATTERN.match(field) or len(field) > MAX_NAME_LENGTH:
                raise ScaffoldError(
                    f"--source {field!r} is not a GraphQL field name "
                    f"(camelCase, at most {MAX_NAME_LENGTH} characters)"
                )
            schema = read_project_file(root, SCHEMA_FILE)
            if re.search(rf"^  {re.escape(field)}\(", schema, flags=re.MULTILINE):
                raise ScaffoldError(f"--source: Query.{field} exists already ({SCHEMA_FILE})")
            return field


def queue_source(queue: str) -> str:
    """The catalog's `source=` expression of a queue worker."""
    return f'QueueSource(queue="{queue}")'


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _default_description(trigger: str, source: str) -> str:
    return {
        "queue": f"Handles the jobs of the {source} queue",
        "stream": f"Reads the {source.replace('_', ' ')} stream's records",
        "schedule": f"Runs on its schedule ({source})",
        "resolver": f"Resolves Query.{source} from the event cache",
    }[trigger]


def read_project_file(root: Path, relative: str) -> str:
    """A file of the project at `root`; ScaffoldError when it is not there."""
    path = root / relative
    if not path.is_file():
        raise ScaffoldError(f"{relative} not found under {root} (--project-root must be the repository)")
    return path.read_text(encoding="utf-8")
