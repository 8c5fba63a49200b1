"""Cancel: a queued job never runs; a running one's process is stopped before the job's
function ends; a finished one is 409."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.helpers import job, submit_sum, submit_wait, wait_for_status
from tests.support.launcher import Launcher
from tests.support.servers import FIXTURE_FUNCTIONS, Service, wait_until

MARKED_SECONDS = 30  # how long the cancelled job's function would run if nothing stopped it


def test_cancelled_queued_job_never_runs(launch: Launcher) -> None:
    stack = launch.stack(worker=None)  # jobs stay QUEUED until the worker below starts
    with stack.client() as client:
        cancelled = submit_sum(client, 100)
        kept = submit_sum(client, 100)
        r = client.delete(f"/producer/api/jobs/{cancelled}")
        assert r.status_code == 200
        assert r.json()["status"] == "CANCELLED" and r.json()["finished_at"]
        stack.start_worker("cancel-worker")
        assert wait_for_status(client, kept)["status"] == "SUCCEEDED"
        wait_until(lambda: stack.redis.client().llen("celery") == 0, 10, "queue drained")
        record = job(client, cancelled)
        assert record["status"] == "CANCELLED"
        assert record["attempts"] == 0 and record["started_at"] is None
        assert record["result"] is None


@pytest.fixture(scope="module")
def one_process(module_launch: Launcher) -> Iterator[tuple[httpx.Client, Service]]:
    """A gateway and a worker with ONE pool process that know the test functions
    (tests/support/fixture_functions.py): a job can only run after the one before it has
    ended or its process was replaced."""
    stack = module_launch.stack("cancel-one-process", WORKER_CONCURRENCY="1",
                                EXTRA_FUNCTION_MODULES=f'["{FIXTURE_FUNCTIONS}"]')
    assert stack.worker is not None
    with stack.client() as client:
        yield client, stack.worker


def submit_marked(client: httpx.Client, marker_dir: Path, seconds: float) -> str:
    marker_dir.mkdir()
    r = client.post("/producer/api/jobs", json={"function": "marked", "input": {
        "marker_dir": str(marker_dir), "seconds": seconds}})
    assert r.status_code == 202, r.text
    job_id: str = r.json()["id"]
    return job_id


def test_cancel_stops_the_running_jobs_process(one_process: tuple[httpx.Client, Service],
                                               tmp_path: Path) -> None:
    """The running job's pool process is stopped: its function never writes its end
    marker, and the worker's one slot runs the next job in a new process. Were the process
    left running, the next job could only start once the cancelled function had ended, so
    waiting for the next job to finish is a bounded wait on the end marker too."""
    client, worker = one_process
    cancelled = tmp_path / "cancelled"
    job_id = submit_marked(client, cancelled, MARKED_SECONDS)
    wait_until(lambda: (cancelled / "start").exists(), 30, "the job's function to start")
    pid = int((cancelled / "start").read_text())
    assert [p.pid for p in worker.children()] == [pid]  # the worker's only pool process

    r = client.delete(f"/producer/api/jobs/{job_id}")
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED"
    following = tmp_path / "following"
    follow = submit_marked(client, following, 0)
    # Longer than MARKED_SECONDS: a cancel that stopped nothing shows as the end marker.
    record = wait_for_status(client, follow, timeout=2 * MARKED_SECONDS)
    assert record["status"] == "SUCCEEDED", record
    assert not (cancelled / "end").exists(), "the cancelled job's function ran to its end"
    assert record["result"] != pid and (following / "end").exists()
    assert pid not in [p.pid for p in worker.children()]
    assert job(client, job_id)["status"] == "CANCELLED"


def test_cancel_is_idempotent_and_finished_is_409(client: httpx.Client) -> None:
    job_id = submit_sum(client, 10)
    wait_for_status(client, job_id)
    r = client.delete(f"/producer/api/jobs/{job_id}")
    assert r.status_code == 409
    assert "SUCCEEDED" in r.json()["message"]
    assert job(client, job_id)["status"] == "SUCCEEDED"

    waiting = submit_wait(client, 20)
    assert client.delete(f"/producer/api/jobs/{waiting}").status_code == 200
    assert client.delete(f"/producer/api/jobs/{waiting}").status_code == 200
