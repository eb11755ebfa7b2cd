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

.PHONY: help install lint format typecheck test test-fast bench demo synth snapshots package bytecode-python bytecode-compiler lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

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

# Lambda runs python3.12; packaging compiles the artifacts' bytecode with DMD_PYTHON312, python3.12
# on PATH or a pyenv 3.12 when there is one, else with this pinned Pyodide (CPython 3.12 in
# WebAssembly, ~14 MB from npm, needs node). Not part of `make install`: most machines have a 3.12.
BYTECODE_COMPILER := build/bytecode-compiler
$(BYTECODE_COMPILER)/node_modules/pyodide/package.json: infra/pyodide/package.json infra/pyodide/package-lock.json
	@command -v npm >/dev/null || { echo "make bytecode-compiler needs node and npm (or set DMD_PYTHON312)" >&2; exit 1; }
	@mkdir -p $(BYTECODE_COMPILER)
	cp infra/pyodide/package.json infra/pyodide/package-lock.json $(BYTECODE_COMPILER)/
	cd $(BYTECODE_COMPILER) && npm ci --no-audit --no-fund --silent
	@touch $@

bytecode-python: $(SYNCED) ## CPython 3.12 (Lambda's python3.12) managed by uv: compiles the shipped bytecode
	$(UV) python install 3.12

bytecode-compiler: $(BYTECODE_COMPILER)/node_modules/pyodide/package.json ## Pyodide from npm: the bytecode compiler where no python3.12 is installed

demo: $(SYNCED) ## run the product on this machine (sandbox: AWS emulator, fake vendors, real workers)
	$(VENV)/bin/dmd sandbox demo

lock: ## re-resolve dependencies after editing pyproject.toml (and refresh the layer's pins)
	@test -x $(UV) || { python3 -m venv $(VENV) && $(VENV)/bin/pip install --quiet uv==$(UV_VERSION); }
	$(UV) lock
	$(UV) sync --frozen --quiet
	$(PY) -c "from pathlib import Path; from infra.packaging import *; write_layer_requirements(LAYER_REQUIREMENTS_FILE, export_layer_requirements(Path('.')))"

clean: ## remove the virtualenv and build outputs
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache
