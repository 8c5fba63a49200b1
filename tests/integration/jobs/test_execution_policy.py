"""Execution policy: transient retries (RETRYING), failures as data, time limits, max age."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.helpers import submit_wait, wait_for_status
from tests.support.launcher import Launcher
from tests.support.servers import FIXTURE_FUNCTIONS

POLICIES = {
    "sum_to_n_job": {"max_age_seconds": 1},
    "wait_and_return": {"soft_time_limit": 2, "hard_time_limit": 5},
}


@pytest.fixture(scope="module")
def policy_client(module_launch: Launcher) -> Iterator[httpx.Client]:
    stack = module_launch.stack("policy-worker", WORKER_CONCURRENCY="1",
                                EXTRA_FUNCTION_MODULES=f'["{FIXTURE_FUNCTIONS}"]',
                                FUNCTION_POLICIES=json.dumps(POLICIES))
    with stack.client() as client:
        yield client


def submit(client: httpx.Client, function: str, **input: object) -> str:
    r = client.post("/producer/api/jobs", json={"function": function, "input": input})
    assert r.status_code == 202, r.text
    job_id: str = r.json()["id"]
    return job_id


def test_transient_errors_are_retried(policy_client: httpx.Client, tmp_path: Path) -> None:
    job_id = submit(policy_client, "flaky", counter_file=str(tmp_path / "n"), failures=2)
    seen = wait_for_status(policy_client, job_id, {"RETRYING"})
    assert seen["error"]["type"] == "TransientJobError"
    record = wait_for_status(policy_client, job_id)
    assert record["status"] == "SUCCEEDED" and record["result"] == 3
    assert record["attempts"] == 3


def test_retries_run_out(policy_client: httpx.Client, tmp_path: Path) -> None:
    job_id = submit(policy_client, "flaky", counter_file=str(tmp_path / "n"), failures=9)
    record = wait_for_status(policy_client, job_id)
    assert record["status"] == "FAILED" and record["attempts"] == 3  # max_retries=2
    assert record["error"] == {"type": "TransientJobError", "message": "transient failure 3 of 9"}


def test_failure_is_reported_as_data(policy_client: httpx.Client) -> None:
    job_id = submit(policy_client, "boom", message="it broke")
    record = wait_for_status(policy_client, job_id)
    assert record["status"] == "FAILED" and record["attempts"] == 1
    assert record["error"] == {"type": "ValueError", "message": "it broke"}


def test_soft_time_limit_fails_the_job(policy_client: httpx.Client) -> None:
    job_id = submit_wait(policy_client, 4)
    record = wait_for_status(policy_client, job_id)
    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "SoftTimeLimitExceeded"


def test_job_not_started_within_max_age_expires(policy_client: httpx.Client) -> None:
    blocker = submit_wait(policy_client, 1.5)  # the only pool process is busy for 1.5 s
    r = policy_client.post("/producer/api/sum", json={"number": 10})
    job_id = r.json()["job_id"]
    record = wait_for_status(policy_client, job_id)
    assert record["status"] == "EXPIRED" and record["attempts"] == 0
    assert record["result"] is None and record["finished_at"]
    assert wait_for_status(policy_client, blocker)["status"] == "SUCCEEDED"
