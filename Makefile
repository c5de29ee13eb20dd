# Every target sets up .venv on first use, so a fresh clone needs only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help install run test lint typecheck bench loadtest check-schemas constraints audit clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project with its dev tools

run: $(STAMP) ## Serve the HTTP API on http://127.0.0.1:8000 (RUNSTEP_VALIDATOR_* settings apply)
	$(BIN)/runstep-validator serve

test: $(STAMP) lint typecheck check-schemas ## Lint, type-check, check the schemas and run every test
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff (lint and formatting) and import-linter (the direction of imports between subpackages)
	$(BIN)/ruff check service tests bench tools
	$(BIN)/ruff format --check service tests bench tools
	$(BIN)/lint-imports

typecheck: $(STAMP) ## mypy --strict over the package and the tests
	$(BIN)/mypy

check-schemas: $(STAMP) ## Check schemas/: metaschema, offline $refs, examples, canonical format
	$(BIN)/runstep-validator check-schemas schemas

bench: $(STAMP) ## Benchmarks: figures and ratios against peers, measured in one run
	@command -v wrk >/dev/null || (apt-get install -y -qq wrk >/dev/null 2>&1 || sudo apt-get install -y -qq wrk) || true
	PYTHONPATH=. $(BIN)/python bench/bench_peers.py
	PYTHONPATH=. $(BIN)/python bench/bench_errors.py
	PYTHONPATH=. $(BIN)/python bench/bench_azure.py
	PYTHONPATH=. $(BIN)/python bench/bench_cli.py
	PYTHONPATH=. $(BIN)/python bench/bench_http.py
	PYTHONPATH=. $(BIN)/python bench/bench_import.py
	PYTHONPATH=. $(BIN)/python bench/bench_cluster.py
	PYTHONPATH=. $(BIN)/python bench/bench_streams.py

loadtest: $(STAMP) ## Load and fault test on loopback: 64 connections, a killed worker, SIGTERM (LOAD_SECONDS=60)
	PYTHONPATH=. $(BIN)/python bench/loadtest.py

constraints: $(STAMP) ## Re-pin constraints.txt to what is installed in .venv (pins of packages it lacks are kept)
	$(BIN)/python -m pip freeze --exclude-editable | $(BIN)/python tools/pin_constraints.py constraints.txt

audit: $(STAMP) ## pip-audit the pinned dependencies (needs PyPI's or OSV's vulnerability data)
	@$(BIN)/pip-audit --strict --no-deps --disable-pip -r constraints.txt || { \
	  echo "make audit: pip-audit did not finish. If it could not fetch vulnerability data (PyPI's JSON API or OSV" >&2; \
	  echo "unreachable), the package it names is not at fault: run make audit where those services are reachable." >&2; \
	  exit 1; }

clean: ## Remove the virtualenv, caches, benchmark results and test state
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .schemathesis .import_linter_cache \
	  build dist bench/results
