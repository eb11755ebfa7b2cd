# dmd-workers — every task the team and CI run, the same way.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
SYNCED := $(VENV)/.synced
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_NO_PROGRESS := 1
# Machines that set PYTHONDONTWRITEBYTECODE make every interpreter (each test worker, each CLI
# subprocess, each demo) recompile pulumi_aws, moto and botocore from source: seconds per process.
# Targets here write bytecode caches (ignored by git, never packaged); the cold-import benchmark
# sets its own clean cache so it still measures a Lambda-like import from source.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help install lint format typecheck test test-fast bench demo synth snapshots package lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(SYNCED): pyproject.toml uv.lock
	@test -x $(UV) || { python3 -m venv $(VENV) && $(VENV)/bin/pip install --quiet uv==$(UV_VERSION); }
	$(UV) sync --frozen --quiet
	@touch $@

install: $(SYNCED) ## create .venv with the locked dependencies

lint: $(SYNCED) ## ruff lint + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(SYNCED) ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(SYNCED) ## mypy (strict) over aws_clients, infra, workers, ops, sandbox, bench
	$(VENV)/bin/mypy

test: lint typecheck ## lint, type checks and the whole test suite, with its branch-coverage floor
	$(VENV)/bin/pytest -n 2 --dist loadgroup --cov --cov-report=

test-fast: $(SYNCED) ## the test suite without lint/type checks
	$(VENV)/bin/pytest -n 2 --dist loadgroup -m "not slow and not e2e"

bench: $(SYNCED) ## benchmarks (ratios against a baseline in the same run)
	$(PY) -m bench

synth: $(SYNCED) ## offline resource graph for every stack into build/synth/
	@mkdir -p build/synth
	@for s in qa1 prod1 local; do $(VENV)/bin/dmd synth --stack $$s --out build/synth/$$s.json || exit 1; done

snapshots: $(SYNCED) ## regenerate the committed per-stack synth snapshots (review the diff!)
	$(VENV)/bin/dmd synth --update-snapshots

package: $(SYNCED) ## build the per-worker code archives and the dependency layer (needs PyPI)
	$(VENV)/bin/dmd package

demo: $(SYNCED) ## run the product on this machine (sandbox: AWS emulator, fake vendors, real workers)
	$(VENV)/bin/dmd sandbox demo

lock: ## re-resolve dependencies after editing pyproject.toml (and refresh the layer's pins)
	@test -x $(UV) || { python3 -m venv $(VENV) && $(VENV)/bin/pip install --quiet uv==$(UV_VERSION); }
	$(UV) lock
	$(UV) sync --frozen --quiet
	$(PY) -c "from pathlib import Path; from infra.packaging import *; write_layer_requirements(LAYER_REQUIREMENTS_FILE, export_layer_requirements(Path('.')))"

clean: ## remove the virtualenv and build outputs
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache
