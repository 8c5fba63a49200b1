# The project's commands. `make up` runs the whole stack; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: up test lint venv fuzz load clean lock

# Installs come from the lock (requirements/*.txt, exported from uv.lock), never from
# pyproject.toml's open ranges: see infra/install.sh.
$(STAMP): requirements/install.txt requirements/dev.txt pyproject.toml
	PYTHON=$(PYTHON) bash infra/install.sh dev
	touch $(STAMP)

venv: $(STAMP)

## lock: re-resolve every dependency to its newest allowed release (uv.lock) and re-export
## requirements/*.txt; `make lock UPGRADE=redis` moves only that package. Then `make test`.
lock: venv
	bash infra/lock.sh $(if $(UPGRADE),--upgrade-package $(UPGRADE))

## up: set up everything and run the whole local stack in the foreground (Ctrl-C stops it)
up: venv
	bash infra/ensure-binaries.sh redis-server nginx
	$(PY) infra/stack.py

## test: lint, type-check, then every test against real Redis, Celery and HTTP servers.
## The tests that need chromium, envsubst, libnss_wrapper or node/npm skip where those are missing,
## except under CI=true (as .ci/run sets), where a missing one stops the run and a test
## that would skip fails (tests/conftest.py).
TEST_EXTRAS := chromium envsubst libnss_wrapper.so node npm
test: lint
	bash infra/ensure-binaries.sh redis-server nginx
	bash infra/ensure-binaries.sh $(TEST_EXTRAS) || case "$${CI,,}" in \
	  true|1|yes) exit 1 ;; \
	  *) echo "the tests that need what is missing will be skipped" ;; esac
	$(PY) -m pytest

## lint: ruff and mypy
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

## fuzz: the fuzz tests with many more generated cases than `make test` runs
fuzz: venv
	bash infra/ensure-binaries.sh redis-server
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-1000} $(PY) -m pytest -q -p no:cacheprovider tests/integration/test_fuzz.py

## load: a bounded headless Locust run against a stack of its own; reports in reports/load/
load: venv
	bash infra/ensure-binaries.sh redis-server nginx
	$(PY) infra/load.py

## schema: write the GraphQL schema (SDL) to gateway/graphql/schema.graphql; a test checks it is current
.PHONY: schema
schema: venv
	$(PY) -m gateway.graphql.schema > gateway/graphql/schema.graphql

clean:
	rm -rf run test-artifacts .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench-webhooks
## bench-webhooks: webhook delivery benchmark (not a test): deliveries/s against the sync and
## bare-client baselines, and submit-to-webhook latency at 200 jobs/s (bench/webhooks_bench.py)
bench-webhooks: venv
	bash infra/ensure-binaries.sh redis-server
	$(PY) -m bench.webhooks_bench
.PHONY: bench
BENCH_STAMP := $(VENV)/.bench-stamp

$(BENCH_STAMP): requirements/bench.txt $(STAMP)
	bash infra/install.sh bench
	touch $(BENCH_STAMP)

## bench: the side-by-side benchmark, about 14 minutes on loopback; writes
## bench/results/<date-time>/ (results.json and, from it, summary.md and charts), then
## refreshes bench/latest/ and the README's and docs/SCALING.md's tables from it
## (BENCH_QUICK=1: a short check of the harness, which leaves bench/latest and the README alone)
bench: $(BENCH_STAMP)
	bash infra/ensure-binaries.sh redis-server wrk
	$(PY) -m bench

.PHONY: bench-render
## bench-render: write bench/latest/summary.md and the README's and docs/SCALING.md's tables
## again from bench/latest/results.json, after a change of their wording (no benchmark run)
bench-render: venv
	$(PY) -m bench.report bench/latest
	$(PY) -m bench.readme
