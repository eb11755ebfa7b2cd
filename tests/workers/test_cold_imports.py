"""Cold start: importing a worker builds no client and loads nothing its cold start does not need."""

from __future__ import annotations

import pytest

from bench.cold_import import LAZY_PACKAGES, import_footprint
from infra.catalog import CATALOG

NOTHING: dict[str, list[str]] = {"loaded": [], "built": []}
# The runtime modules every worker builds on; settings modules are left out (they load pydantic_settings).
RUNTIME_MODULES = (
    "workers.shared.observability",
    "workers.shared.records",
    "workers.shared.repository",
    "workers.shared.clients",
    "workers.shared.vendor_http",
    "workers.shared.models",
)


@pytest.mark.slow  # a fresh interpreter per worker, about a second each
@pytest.mark.parametrize("handler", [spec.handler.rpartition(".")[0] for spec in CATALOG])
def test_importing_a_workers_handler_is_cheap(handler: str) -> None:
    # When the handler module is imported in a fresh interpreter (as Lambda's cold start does)
    footprint = import_footprint([handler])

    # Then no AWS client, repository or connection pool exists yet, and the lazy packages
    # (OpenTelemetry, Powertools' parser, batch and parameters, boto3 type stubs) stay unloaded
    assert footprint == NOTHING


def test_importing_the_runtime_leaves_conditional_dependencies_unloaded() -> None:
    # Given a fresh interpreter with no collector configured
    # When the runtime modules a worker uses are imported
    footprint = import_footprint(RUNTIME_MODULES, lazy_packages=(*LAZY_PACKAGES, "pydantic_settings"))

    # Then none of the lazily loaded packages is there yet (only settings modules import
    # pydantic_settings), and no client was built
    assert footprint == NOTHING
