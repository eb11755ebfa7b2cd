"""Cold start: importing a worker builds no client and loads nothing its cold start does not need."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from bench.cold_import import CLIENT_FACTORIES, LAZY_PACKAGES, import_footprint
from infra.catalog import CATALOG

NOTHING: dict[str, list[str]] = {"loaded": [], "built": []}
# The runtime modules every worker builds on, settings included (plain pydantic over os.environ).
RUNTIME_MODULES = (
    "workers.shared.observability",
    "workers.shared.records",
    "workers.shared.repository",
    "workers.shared.clients",
    "workers.shared.vendor_http",
    "workers.shared.models",
    "workers.shared.settings",
)
HANDLERS = {spec.name: spec.handler.rpartition(".")[0] for spec in CATALOG}

# What importing each handler loads beyond what `import boto3` alone loads (boto3 already brings
# importlib.metadata, zipfile, email, http.client, concurrent.futures, dataclasses and inspect):
# every new top-level package, standard library included, plus the notable submodules below.
# pydantic and Powertools' logger and metrics are the design card's, used by every invocation;
# pydantic brings zoneinfo (and sysconfig) and fractions through pydantic_core.
RUNTIME_IMPORTS = frozenset(
    {
        "annotated_types",
        "aws_lambda_powertools",
        "aws_lambda_powertools.utilities.jmespath_utils",  # the logger's correlation-id paths
        "fractions",
        "pydantic",
        "pydantic_core",
        "sysconfig",
        "typing_extensions",
        "typing_inspection",
        "zoneinfo",
    }
)
# workers.shared.discovery.rules folds accents in artist names (NFKD) for the suppression rules.
DISCOVERY_IMPORTS = frozenset({"unicodedata"})
IMPORT_PINS: dict[str, frozenset[str]] = {
    "notification_scheduler": RUNTIME_IMPORTS | DISCOVERY_IMPORTS,
    "notification_generator": RUNTIME_IMPORTS | DISCOVERY_IMPORTS,
    "notification_send": RUNTIME_IMPORTS,
    "demand_stream_to_sqs": RUNTIME_IMPORTS,
    "shorten_event_url": RUNTIME_IMPORTS,
    "sms_status_consumer": RUNTIME_IMPORTS,
    "event_details": RUNTIME_IMPORTS | DISCOVERY_IMPORTS,
    "proxy_tm_account_service": RUNTIME_IMPORTS,
    "notification_sweeper": RUNTIME_IMPORTS,
}
# Submodules worth a pin of their own although their top-level package is loaded anyway.
NOTABLE_SUBMODULES = frozenset(
    {
        "concurrent.futures",
        "email.mime",
        "http.cookies",
        "http.server",
        "importlib.metadata",
        "importlib.resources",
        "logging.config",
        "logging.handlers",
        "urllib.request",
        "xml.dom",
        "xml.etree",
        "xml.parsers",
    }
)
# Powertools' utilities are optional and some are heavy (parser: every event model): each one a pin.
POWERTOOLS_UTILITIES = "aws_lambda_powertools.utilities."

_PROBE = """
import json, sys
import boto3
baseline = set(sys.modules)
import {module}
new = set(sys.modules) - baseline
from workers.shared import clients
prefixes = {prefixes!r}
loaded = sorted(p for p in prefixes if any(n == p or n.startswith(p + ".") for n in sys.modules))
built = sorted(f for f in {factories!r} if getattr(clients, f).cache_info().currsize)
from pydantic import BaseModel
models, complete = [BaseModel], []
while models:
    model = models.pop()
    models.extend(model.__subclasses__())
    if model.__module__.startswith("workers.") and model.__pydantic_complete__:
        complete.append(f"{{model.__module__}}.{{model.__qualname__}}")
report = {{"baseline": sorted(baseline), "new": sorted(new), "loaded": loaded, "built": built}}
print(json.dumps({{**report, "validators": sorted(set(complete))}}))
"""


@dataclass(frozen=True)
class ColdImport:
    """What a fresh interpreter loads importing a module after `import boto3`."""

    baseline: frozenset[str]
    new: frozenset[str]
    footprint: dict[str, list[str]]
    validators: list[str]  # our models whose validator was built at import (defer_build missing)


def cold_import(module: str) -> ColdImport:
    """Import `module` in a fresh interpreter (no collector configured), after `import boto3`."""
    # With a collector endpoint OpenTelemetry loads at the first span, never at import.
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_EXPORTER")}
    probe = _PROBE.format(module=module, prefixes=LAZY_PACKAGES, factories=CLIENT_FACTORIES)
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=environment, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return ColdImport(
        baseline=frozenset(report["baseline"]),
        new=frozenset(report["new"]),
        footprint={"loaded": report["loaded"], "built": report["built"]},
        validators=report["validators"],
    )


def import_units(new: frozenset[str], baseline: frozenset[str]) -> frozenset[str]:
    """The pinned units among newly loaded modules: new top-level packages, notable submodules, utilities."""
    baseline_tops = {name.partition(".")[0] for name in baseline}
    units: set[str] = set()
    for name in new:
        top = name.partition(".")[0]
        if top.startswith("_") or top == "workers":  # C accelerators follow their package; ours are ours
            continue
        if top not in baseline_tops:
            units.add(top)
        units.update(
            notable for notable in NOTABLE_SUBMODULES if name == notable or name.startswith(f"{notable}.")
        )
        if name.startswith(POWERTOOLS_UTILITIES):
            units.add(".".join(name.split(".")[:3]))
    return frozenset(units)


@pytest.mark.slow  # a fresh interpreter per worker, about a second each
@pytest.mark.parametrize("worker", list(HANDLERS))
def test_importing_a_workers_handler_is_cheap(worker: str) -> None:
    # Given the packages the worker's cold start is known to need beyond `import boto3`
    pinned = IMPORT_PINS[worker]

    # When the handler module is imported in a fresh interpreter (as Lambda's cold start does)
    module = HANDLERS[worker]
    loaded = cold_import(module)

    # Then no AWS client, repository or connection pool exists yet, and the lazy packages
    # (OpenTelemetry, Powertools' parser, batch and parameters, boto3 type stubs) stay unloaded
    assert loaded.footprint == NOTHING
    # And no model of ours built its validator (defer_build: built at first use, if ever)
    assert loaded.validators == []
    # And it loads exactly its pins beyond boto3: a new heavy module is named, so is a pin now unneeded
    units = import_units(loaded.new, loaded.baseline)
    added, gone = sorted(units - pinned), sorted(pinned - units)
    assert units == pinned, (
        f"importing {module} beyond `import boto3`: new {added}, gone {gone}. "
        f"Find who imports a new one with `python -X importtime -c 'import {module}'` and import it where "
        "it is used; if the cold start really needs it (or a gone one), update IMPORT_PINS in "
        "tests/workers/test_cold_imports.py and say why in docs/workers-runtime.md (Cold start)."
    )


def test_every_worker_of_the_catalog_has_an_import_pin() -> None:
    assert set(IMPORT_PINS) == set(HANDLERS)


def test_a_new_package_or_notable_submodule_is_a_unit_of_its_own() -> None:
    # Given a baseline with importlib and a handler that loads asyncio, importlib.metadata and a utility
    baseline = frozenset({"importlib", "json"})
    new = frozenset(
        {
            "asyncio",
            "asyncio.events",
            "_asyncio",
            "importlib.metadata",
            "importlib.metadata._meta",
            "json.decoder",
            "aws_lambda_powertools.utilities.batch.base",
            "workers.shared.models",
        }
    )

    # When the units are computed
    units = import_units(new, baseline)

    # Then each heavy addition is named once; our own modules and C accelerators are not
    assert units == {
        "asyncio",
        "importlib.metadata",
        "aws_lambda_powertools",
        "aws_lambda_powertools.utilities.batch",
    }


def test_importing_the_runtime_leaves_conditional_dependencies_unloaded() -> None:
    # Given a fresh interpreter with no collector configured
    # When the runtime modules a worker uses are imported (settings included)
    footprint = import_footprint(
        RUNTIME_MODULES, lazy_packages=(*LAZY_PACKAGES, "pydantic_settings", "asyncio")
    )

    # Then none of the lazily loaded packages is there yet (nor pydantic-settings or asyncio,
    # which settings no longer need), and no client was built
    assert footprint == NOTHING
