"""A SIGKILLed worker never leaves a job stuck in STARTED."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import job, submit_wait, wait_for_status
from tests.servers import Gateway, RedisServer, Service, stack_env, start_worker, wait_until


@pytest.fixture()
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


def kill_pool_child(worker: Service) -> None:
    children = worker.children()
    assert children, "the worker has no pool children"
    # The tests run one pool child (WORKER_CONCURRENCY=1): it is the one running the job.
    for child in children:
        child.send_signal(signal.SIGKILL)


def test_killed_pool_child_job_is_retried(private_redis: RedisServer) -> None:
    env = stack_env(private_redis.url, WORKER_CONCURRENCY="1")
    worker = start_worker(env, name="loss-child")
    gateway = Gateway(env).start()
    try:
        with httpx.Client(base_url=gateway.url, timeout=10) as client:
            job_id = submit_wait(client, 2)
            wait_for_status(client, job_id, {"STARTED"})
            kill_pool_child(worker)
            record = wait_for_status(client, job_id, timeout=30)
            assert record["status"] == "SUCCEEDED" and record["result"] == "Hello World!"
            assert record["attempts"] == 2
    finally:
        gateway.stop()
        worker.stop()


def test_job_that_keeps_losing_its_worker_fails(private_redis: RedisServer) -> None:
    env = stack_env(private_redis.url, WORKER_CONCURRENCY="1", JOB_MAX_ATTEMPTS="2")
    worker = start_worker(env, name="loss-repeat")
    gateway = Gateway(env).start()
    try:
        with httpx.Client(base_url=gateway.url, timeout=10) as client:
            job_id = submit_wait(client, 5)
            for attempt in (1, 2):
                wait_until(lambda a=attempt: job(client, job_id)["attempts"] == a
                           and job(client, job_id)["status"] == "STARTED", 20,
                           f"attempt {attempt} to start")
                kill_pool_child(worker)
            record = wait_for_status(client, job_id, timeout=30)
            assert record["status"] == "FAILED"
            assert record["error"]["type"] == "WorkerLostError"
            assert "Traceback" not in record["error"]["message"]
    finally:
        gateway.stop()
        worker.stop()


def test_killed_whole_worker_job_is_redelivered(private_redis: RedisServer) -> None:
    # A Redis broker redelivers an unacknowledged message after the visibility timeout;
    # keep it short here (it must still exceed the longest job: WAIT_MAX_SECONDS + 10).
    env = stack_env(private_redis.url, WORKER_CONCURRENCY="1", WAIT_MAX_SECONDS="3",
                    CELERY_VISIBILITY_TIMEOUT="14")
    first = start_worker(env, name="loss-whole-1")
    gateway = Gateway(env).start()
    second = None
    try:
        with httpx.Client(base_url=gateway.url, timeout=10) as client:
            job_id = submit_wait(client, 2)
            wait_for_status(client, job_id, {"STARTED"})
            first.kill()  # main process and pool children, no warm shutdown
            assert job(client, job_id)["status"] == "STARTED"
            second = start_worker(env, name="loss-whole-2")
            record = wait_for_status(client, job_id, timeout=60)
            assert record["status"] == "SUCCEEDED"
            assert record["attempts"] == 2
    finally:
        gateway.stop()
        if second is not None:
            second.stop()
