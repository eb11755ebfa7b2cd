"""docs/workers-runtime.md's "worker in 20 lines" runs as written: its blocks are imported and invoked."""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from trigger_records import sqs_record

import workers
from workers.shared.models import DemandRecord
from workers.shared.repository import DemandRepository

DOC = Path(__file__).resolve().parents[2] / "docs" / "workers-runtime.md"
SECTION = "## A worker in 20 lines"
# A python block of the section starts with the path of the file it is: `# workers/<worker>/<module>.py`.
BLOCK = re.compile(r"```python\n# (workers/(\w+)/(\w+)\.py)\n(.*?)```", re.DOTALL)
FANS = 23

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def example_files() -> dict[str, str]:
    """The section's python blocks by the path each names."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    return {match[1]: match[4] for match in BLOCK.finditer(section)}


@pytest.fixture
def example_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The example's package written out under a second `workers` directory, its handler imported."""
    files = example_files()
    (name,) = {path.split("/")[1] for path in files}
    package = tmp_path / "workers" / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f'"""Lambda worker {name} (docs example)."""\n', encoding="utf-8")
    for path, source in files.items():
        (tmp_path / path).write_text(source, encoding="utf-8")
    monkeypatch.setattr(workers, "__path__", [*workers.__path__, str(tmp_path / "workers")])
    yield importlib.import_module(f"workers.{name}.handler")
    for module in [module for module in sys.modules if module.startswith(f"workers.{name}")]:
        del sys.modules[module]


def test_the_example_has_settings_logic_and_a_handler() -> None:
    # When the section's blocks are read / Then they are the three files of one worker
    assert sorted(path.rpartition("/")[2] for path in example_files()) == [
        "handler.py",
        "logic.py",
        "settings.py",
    ]


def test_the_example_worker_counts_the_fans_of_each_job_across_pages(
    example_worker: ModuleType,
    demand_table: str,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: Any,
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    # Given 23 fans waiting for a sale, and the worker's environment with pages of ten
    repository = DemandRepository(demand_table, sales_index="sales", demand_index="demand-by-sale")
    for index in range(FANS):
        repository.put_demand(
            DemandRecord(
                fan_id=f"fan-{index}", event_id="vvG1IZ9KBxv3Tg", sale_id="public", contact_method="sms"
            )
        )
    for variable, value in {
        "DEMAND_TABLE_NAME": demand_table,
        "DEMAND_TABLE_SALES_INDEX": "sales",
        "DEMAND_TABLE_DEMAND_INDEX": "demand-by-sale",
        "DEMAND_TABLE_MESSAGE_INDEX": "notification-by-message-id",
        "DEMAND_TABLE_PENDING_INDEX": "pending-notifications",
        "DEMAND_PAGE_SIZE": "10",
    }.items():
        monkeypatch.setenv(variable, value)
    job = {
        "eventId": "vvG1IZ9KBxv3Tg",
        "saleId": "public",
        "saleStartDateTime": "2024-01-15T15:00:00Z",
        "windowStart": "2024-01-15T15:00:00Z",
        "windowEnd": "2024-01-15T15:30:00Z",
    }

    # When the handler gets an SQS batch with the job
    response = example_worker.lambda_handler(
        {"Records": [sqs_record("m-1", json.dumps(job))]}, lambda_context
    )

    # Then the batch succeeded and the worker logged every page's fans for the sale
    assert response == {"batchItemFailures": []}
    (line,) = [line for line in log_lines() if line["message"] == "Fans waiting"]
    assert (line["sale_id"], line["fans"]) == ("public", FANS)
