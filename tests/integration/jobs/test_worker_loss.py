"""A SIGKILLed worker never leaves a job stuck in STARTED.

The limits are what the configuration allows (Celery's wait before it calls a pool
process lost, the function's retry delay, the broker's visibility timeout and sweep) plus
room that scales with the measured start-up time of a worker on this machine (a lost pool
process is replaced by a fork, quicker than a whole worker's start): never fixed seconds.
"""

from __future__ import annotations

import signal

import httpx

from tasks.celery_app import create_celery
from tasks.jobs.catalog import Catalog
from tasks.settings import Settings
from tests.support.fault_helpers import start_ready_worker
from tests.support.helpers import job, submit_wait, wait_for_status
from tests.support.launcher import Launcher
from tests.support.servers import RedisServer, Service, stack_env, wait_until

JOB_SECONDS = 2
# Each step of a recovery (a new pool process or worker, the job's retry) gets this many
# start-ups of a worker: room for a busy machine.
STARTUPS = 4


def after_loss(startup: float, retry: int | None, run: float = 0.0) -> float:
    """The longest the next step of a job whose pool process was killed may take: Celery
    calls the process lost within `worker_lost_wait`; the job then waits the policy's delay
    before retry number `retry` (jitter only shortens it; None: no retry left, it fails),
    runs `run` seconds, and gets STARTUPS start-ups of room."""
    lost_wait = float(create_celery(Settings(_env_file=None)).conf.worker_lost_wait)
    policy = Catalog(Settings(_env_file=None))["wait_and_return"].policy
    backoff = 0.0 if retry is None else min(policy.retry_backoff * 2.0**retry,
                                            policy.retry_backoff_max)
    return lost_wait + backoff + run + STARTUPS * startup


def kill_pool_child(worker: Service) -> None:
    children = worker.children()
    assert children, "the worker has no pool children"
    # The tests run one pool child (WORKER_CONCURRENCY=1): it is the one running the job.
    for child in children:
        child.send_signal(signal.SIGKILL)


def test_killed_pool_child_job_is_retried(launch: Launcher,
                                          fresh_redis: RedisServer) -> None:
    env = stack_env(fresh_redis.url, WORKER_CONCURRENCY="1")
    worker, startup = start_ready_worker(launch, env, "loss-child")
    gateway = launch.gateway(env)
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        job_id = submit_wait(client, JOB_SECONDS)
        wait_for_status(client, job_id, {"STARTED"}, timeout=STARTUPS * startup)
        kill_pool_child(worker)
        record = wait_for_status(client, job_id,
                                 timeout=after_loss(startup, retry=0, run=JOB_SECONDS))
        assert record["status"] == "SUCCEEDED" and record["result"] == "Hello World!"
        assert record["attempts"] == 2


def test_job_that_keeps_losing_its_worker_fails(launch: Launcher,
                                                fresh_redis: RedisServer) -> None:
    env = stack_env(fresh_redis.url, WORKER_CONCURRENCY="1", JOB_MAX_ATTEMPTS="2")
    worker, startup = start_ready_worker(launch, env, "loss-repeat")
    gateway = launch.gateway(env)
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        job_id = submit_wait(client, 5)
        for attempt in (1, 2):
            limit = (STARTUPS * startup if attempt == 1
                     else after_loss(startup, retry=attempt - 2))
            wait_until(lambda a=attempt: job(client, job_id)["attempts"] == a
                       and job(client, job_id)["status"] == "STARTED", limit,
                       f"attempt {attempt} to start")
            kill_pool_child(worker)
        # The last attempt lost: FAILED once Celery calls the process lost.
        record = wait_for_status(client, job_id, timeout=after_loss(startup, retry=None))
        assert record["status"] == "FAILED"
        assert record["error"]["type"] == "WorkerLostError"
        assert "Traceback" not in record["error"]["message"]


def test_killed_whole_worker_job_is_redelivered(launch: Launcher,
                                                fresh_redis: RedisServer) -> None:
    # The last resort, for workers without heartbeats (lost-worker recovery off here; see
    # test_lost_workers.py): a Redis broker redelivers an unacknowledged message after the
    # visibility timeout; keep it short here (it must still exceed the longest job:
    # WAIT_MAX_SECONDS + 10).
    env = stack_env(fresh_redis.url, WORKER_CONCURRENCY="1", WAIT_MAX_SECONDS="3",
                    CELERY_VISIBILITY_TIMEOUT="14", WORKER_LOST_AFTER_SECONDS="0")
    settings = Settings(_env_file=None, redis_url=fresh_redis.url, wait_max_seconds=3,
                        celery_visibility_timeout=14)
    transport = create_celery(settings).conf.broker_transport_options
    first, startup = start_ready_worker(launch, env, "loss-whole-1")
    gateway = launch.gateway(env)
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        job_id = submit_wait(client, JOB_SECONDS)
        wait_for_status(client, job_id, {"STARTED"}, timeout=STARTUPS * startup)
        first.kill()  # main process and pool children, no warm shutdown
        assert job(client, job_id)["status"] == "STARTED"
        _, startup_again = start_ready_worker(launch, env, "loss-whole-2")
        # The message comes back at the first sweep for lost messages after the
        # visibility timeout; then the job runs again.
        limit = (transport["visibility_timeout"] + transport["unacked_restore_interval"]
                 + JOB_SECONDS + STARTUPS * max(startup, startup_again))
        record = wait_for_status(client, job_id, timeout=limit)
        assert record["status"] == "SUCCEEDED"
        assert record["attempts"] == 2
