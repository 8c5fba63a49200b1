"""Cancel: a queued job never runs; a running one stops; a finished one is 409."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests import servers
from tests.helpers import job, submit_sum, submit_wait, wait_for_status
from tests.servers import Gateway, RedisServer, start_worker, wait_until


@pytest.fixture()
def idle_stack() -> Iterator[tuple[RedisServer, Gateway, dict[str, str]]]:
    with servers.idle_stack() as stack:
        yield stack


def test_cancelled_queued_job_never_runs(
    idle_stack: tuple[RedisServer, Gateway, dict[str, str]],
) -> None:
    redis_server, gateway, env = idle_stack
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        cancelled = submit_sum(client, 100)
        kept = submit_sum(client, 100)
        r = client.delete(f"/producer/api/jobs/{cancelled}")
        assert r.status_code == 200
        assert r.json()["status"] == "CANCELLED" and r.json()["finished_at"]
        worker = start_worker(env, name="cancel-worker")
        try:
            assert wait_for_status(client, kept)["status"] == "SUCCEEDED"
            wait_until(lambda: redis_server.client().llen("celery") == 0, 10, "queue drained")
            record = job(client, cancelled)
            assert record["status"] == "CANCELLED"
            assert record["attempts"] == 0 and record["started_at"] is None
            assert record["result"] is None
        finally:
            worker.stop()


def test_cancel_running_job(client: httpx.Client) -> None:
    job_id = submit_wait(client, 20)
    wait_for_status(client, job_id, {"STARTED"})
    r = client.delete(f"/producer/api/jobs/{job_id}")
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED"
    # The worker is free again well before the 20 s sleep would have ended.
    follow = submit_sum(client, 10)
    assert wait_for_status(client, follow, timeout=10)["result"] == 55
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
