# The project's commands. `make up` runs the whole stack; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: up test lint unit venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## up: set up everything and run the whole local stack in the foreground (Ctrl-C stops it)
up: venv
	bash infra/ensure-binaries.sh redis-server
	$(PY) infra/stack.py

## test: lint, type-check, then every test against real Redis, Celery and HTTP servers
test: lint
	bash infra/ensure-binaries.sh redis-server
	$(PY) -m pytest

## lint: ruff and mypy
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf run test-artifacts .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench
BENCH_STAMP := $(VENV)/.bench-stamp

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

## bench: the side-by-side benchmark, about 8 minutes on loopback (BENCH_QUICK=1: a short
## check of the harness); writes bench/results/<date-time>/ and refreshes bench/latest/
bench: $(BENCH_STAMP)
	bash infra/ensure-binaries.sh redis-server wrk
	$(PY) -m bench
