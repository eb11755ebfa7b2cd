"""The text edits that wire a worker into the repository, and their exact inverses.

Each edit inserts lines at a place found by an anchor and removes exactly those lines again, so a
create followed by a remove gives back every file byte for byte. An anchor that is not found is a
ScaffoldError naming the file: nothing is written then (the plan is computed before any write).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Final

CATALOG_OPENING: Final = "CATALOG: tuple[WorkerSpec, ...] = ("
WORKERS_KEY: Final = "  dmd-workers:workers:"
QUERY_OPENING: Final = "type Query {"


class ScaffoldError(Exception):
    """A worker cannot be created or removed as asked; the message is the one line to show."""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _find(lines: list[str], predicate_text: str, where: str, *, start: int = 0) -> int:
    for index in range(start, len(lines)):
        if lines[index].rstrip("\n") == predicate_text:
            return index
    raise ScaffoldError(f"{where}: no line {predicate_text.strip()!r} to anchor the edit on")


# ------------------------------------------------------------------------------------ catalog


def catalog_entry(
    *, name: str, code: str, description: str, source: str, access: str, comment: str | None = None
) -> str:
    """A WorkerSpec block as the catalog writes them (four-space indented, trailing comma)."""
    lines = [
        "    WorkerSpec(\n",
        f'        name="{name}",\n',
        f'        inventory_code="{code}",\n',
        f"        description={_python_string(description)},\n",
        f"        source={source},\n",
    ]
    lines += [f"        # {part}\n" for part in textwrap.wrap(comment or "", width=96)]
    lines.append(f"        access={access},\n")
    lines.append("    ),\n")
    return "".join(lines)


def _python_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def add_catalog_entry(text: str, entry: str, where: str) -> str:
    """The catalog with `entry` as the last worker of CATALOG."""
    lines = _lines(text)
    opening = _find(lines, CATALOG_OPENING, where)
    closing = _find(lines, ")", where, start=opening + 1)
    return "".join([*lines[:closing], entry, *lines[closing:]])


@dataclass(frozen=True)
class CatalogWorker:
    """A worker as the catalog's text declares it."""

    name: str
    code: str
    source: str  # the `source=` expression, e.g. `QueueSource(queue="short_url")`


def catalog_workers(text: str) -> dict[str, CatalogWorker]:
    """Every worker of CATALOG by name, read from the catalog's text (in catalog order)."""
    opening = text.find(CATALOG_OPENING)
    if opening < 0:
        return {}
    workers = {}
    block = re.compile(
        r'^    WorkerSpec\(\n        name="([^"]+)",\n        inventory_code="([^"]+)",\n(.*?)^    \),$',
        flags=re.MULTILINE | re.DOTALL,
    )
    for name, code, body in block.findall(text[opening:]):
        source = re.search(r"^        source=(.+),$", body, flags=re.MULTILINE)
        workers[name] = CatalogWorker(name, code, source.group(1) if source else "")
    return workers


def remove_catalog_entry(text: str, name: str, where: str) -> str:
    """The catalog without the WorkerSpec of `name` (its block, from `WorkerSpec(` to `),`)."""
    lines = _lines(text)
    for index in range(len(lines) - 1):
        if lines[index] == "    WorkerSpec(\n" and lines[index + 1] == f'        name="{name}",\n':
            end = _find(lines, "    ),", where, start=index + 1)
            return "".join([*lines[:index], *lines[end + 1 :]])
    raise ScaffoldError(f"{where}: no WorkerSpec named {name!r}")


# -------------------------------------------------------------------------------- stack files


def stack_block(name: str, body: list[str]) -> str:
    """A worker's block under `dmd-workers:workers:` (`body` lines indented under its name)."""
    return "".join([f"    {name}:\n", *(f"      {line}\n" if line else "\n" for line in body)])


def add_stack_block(text: str, block: str, where: str) -> str:
    """The stack file with `block` as the last worker of `dmd-workers:workers:`."""
    lines = _lines(text)
    opening = _find(lines, WORKERS_KEY, where)
    last = opening
    for index in range(opening + 1, len(lines)):
        stripped = lines[index].strip()
        if stripped and _indent(lines[index]) <= _indent(WORKERS_KEY):
            break
        if stripped and not stripped.startswith("#"):
            last = index
    return "".join([*lines[: last + 1], block, *lines[last + 1 :]])


def remove_stack_block(text: str, name: str) -> str:
    """The stack file without the worker's block (its key line and every deeper line after it)."""
    lines = _lines(text)
    try:
        opening = lines.index(WORKERS_KEY + "\n")
    except ValueError:
        return text
    for index in range(opening + 1, len(lines)):
        if _indent(lines[index]) <= _indent(WORKERS_KEY) and lines[index].strip():
            break
        if lines[index] == f"    {name}:\n":
            end = index + 1
            while end < len(lines) and lines[end].strip() and _indent(lines[end]) > 4:
                end += 1
            return "".join([*lines[:index], *lines[end:]])
    return text


def has_stack_block(text: str, name: str) -> bool:
    """Whether the stack file configures the worker."""
    return remove_stack_block(text, name) != text


# ------------------------------------------------------------------------------ GraphQL schema


def answer_type(type_name: str, field: str) -> str:
    """The GraphQL type a scaffolded resolver answers with, and the blank line after it."""
    return (
        f'"""What Query.{field} answers: the cached event\'s name, if the fleet cached it."""\n'
        f"type {type_name} {{\n"
        "  eventId: ID!\n"
        "  eventName: String\n"
        "  cached: Boolean!\n"
        "}\n"
        "\n"
    )


def add_query_field(text: str, *, field: str, type_name: str, definition: str, where: str) -> str:
    """The schema with `definition` before `type Query` and the field last in it."""
    if re.search(rf"^  {re.escape(field)}\(", text, flags=re.MULTILINE):
        raise ScaffoldError(f"{where}: Query already has a field {field!r}")
    lines = _lines(text)
    opening = _find(lines, QUERY_OPENING, where)
    closing = _find(lines, "}", where, start=opening + 1)
    field_line = f"  {field}(eventId: ID!): {type_name}\n"
    return "".join([*lines[:opening], definition, *lines[opening:closing], field_line, *lines[closing:]])


def remove_query_field(text: str, *, field: str, definition: str) -> str:
    """The schema without the field (and without `definition`, the scaffold's type, if it is there)."""
    text = text.replace(definition, "", 1)
    return re.sub(rf"^  {re.escape(field)}\(.*\n", "", text, count=1, flags=re.MULTILINE)


# ---------------------------------------------------------------------------- pinned test lists


@dataclass(frozen=True)
class Pin:
    """A literal of a test file that pins the fleet: the scaffold adds (and removes) the worker's lines."""

    path: str
    anchor: str  # the line that opens the literal (`WORKER_NAMES = [`), or a line right above it
    sorted_items: bool = False  # insert in sorted position (else last)

    def check(self, text: str) -> None:
        """ScaffoldError unless the literal is there and closed."""
        lines = _lines(text)
        _closing(lines, self._opening(lines), self.path)

    def _opening(self, lines: list[str]) -> int:
        anchor = _find(lines, self.anchor, self.path)
        for index in range(anchor, min(anchor + 3, len(lines))):
            if lines[index].rstrip().endswith(("[", "{", "(")):
                return index
        raise ScaffoldError(f"{self.path}: no literal opens at {self.anchor.strip()!r}")

    def add(self, text: str, items: list[str]) -> str:
        """The file with `items` (whole lines, no newline) in the literal."""
        lines = _lines(text)
        opening = self._opening(lines)
        closing = _closing(lines, opening, self.path)
        position = closing
        if self.sorted_items:
            position = next(
                (index for index in range(opening + 1, closing) if lines[index].strip() > items[0].strip()),
                closing,
            )
        return "".join([*lines[:position], *(f"{item}\n" for item in items), *lines[position:]])

    def remove(self, text: str, name: str) -> str:
        """The file without the literal's lines of worker `name` (its key, or its resources' names)."""
        lines = _lines(text)
        try:
            opening = self._opening(lines)
        except ScaffoldError:
            return text
        closing = _closing(lines, opening, self.path)
        own = re.compile(rf'^\s*"{re.escape(name)}(-data-source|-resolver)?"[:,]')
        kept = [line for line in lines[opening + 1 : closing] if not own.match(line)]
        return "".join([*lines[: opening + 1], *kept, *lines[closing:]])


def _closing(lines: list[str], opening: int, where: str) -> int:
    depth = _indent(lines[opening])
    for index in range(opening + 1, len(lines)):
        stripped = lines[index].strip()
        if _indent(lines[index]) == depth and stripped[:1] in ("]", "}", ")"):
            return index
    raise ScaffoldError(f"{where}: the literal opened by {lines[opening].strip()!r} is not closed")
