"""Schemathesis against the gateway's own OpenAPI document: every REST route, generated
valid and invalid requests; no 5xx, and every response matches its documented schema.

`make test` runs a bounded number of examples per route; `make fuzz` runs many more
(FUZZ_EXAMPLES)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.servers import ARTIFACTS, ROOT, Gateway, RedisServer, stack_env, start_worker

EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "25")
KEY = "fuzz-key-0123456789abcdef"
CONFIG = ROOT / "tests" / "schemathesis.toml"  # the checks left out or tuned, and why


@pytest.fixture(scope="module")
def fuzz_gateway() -> Iterator[Gateway]:
    # Small bounds, so that the jobs the fuzzer submits finish quickly.
    redis_server = RedisServer().start()
    env = stack_env(redis_server.url, SUM_MAX_NUMBER="1000", WAIT_MAX_SECONDS="0.5",
                    CELERY_VISIBILITY_TIMEOUT="30", MAX_QUEUE_DEPTH="0",
                    API_KEYS=f"fuzz:{KEY}")
    worker = start_worker(env, name="fuzz-worker")
    gateway = Gateway(env).start()
    yield gateway
    gateway.stop()
    worker.stop()
    redis_server.stop()


def test_rest_api_never_fails(fuzz_gateway: Gateway) -> None:
    binary = shutil.which("schemathesis", path=str(ROOT / ".venv" / "bin")) or "schemathesis"
    report = ARTIFACTS / "schemathesis"
    done = subprocess.run(
        [binary, "--config-file", str(CONFIG), "run",
         f"{fuzz_gateway.url}/producer/api/openapi.json",
         "--header", f"Authorization: Bearer {KEY}", "--max-examples", EXAMPLES,
         "--seed", "20261125",
         "--workers", "2", "--no-color", "--request-timeout", "10",
         "--report", "junit", "--report-dir", str(report)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
