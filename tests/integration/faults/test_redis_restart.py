"""Fault tests: nothing accepted is lost when parts of the system fail under load."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tasks.redis.keys import job_key
from tests.support.helpers import TERMINAL, job
from tests.support.launcher import Launcher
from tests.support.servers import wait_until


@pytest.mark.timeout(300)
def test_redis_restart_under_load_loses_no_accepted_job(launch: Launcher) -> None:
    # A message the worker held when Redis went away comes back after the visibility
    # timeout (see worker/jobs/kombu_compat.py): keep it short here.
    stack = launch.stack("fault-redis-worker", REDIS_TIMEOUT_SECONDS="1", WAIT_MAX_SECONDS="3",
                         CELERY_VISIBILITY_TIMEOUT="15")
    redis_server, gateway = stack.redis, stack.gateway
    accepted: list[str] = []
    statuses: list[int] = []
    slowest = 0.0
    stop = threading.Event()

    def load() -> None:
        nonlocal slowest
        with httpx.Client(base_url=gateway.url, timeout=15) as c:
            while not stop.is_set():
                started = time.monotonic()
                r = c.post("/producer/api/sum", json={"number": 1000})
                slowest = max(slowest, time.monotonic() - started)
                statuses.append(r.status_code)
                if r.status_code == 200:
                    accepted.append(r.json()["job_id"])
                time.sleep(0.02)

    thread = threading.Thread(target=load)
    try:
        thread.start()
        wait_until(lambda: len(accepted) >= 20, 30, "jobs accepted before the outage")
        redis_server.stop()
        during = len(statuses)
        wait_until(lambda: statuses[during:].count(503) >= 5, 30, "503s during the outage")
        redis_server.start()  # same port and append-only file
        with httpx.Client(base_url=gateway.url, timeout=15) as c:
            wait_until(lambda: c.get("/healthz").status_code == 200, 60, "recovery",
                       interval=0.5)
        after = len(accepted)
        wait_until(lambda: len(accepted) >= after + 20, 60, "jobs accepted after the outage")
        stop.set()
        thread.join(30)

        assert set(statuses) <= {200, 503}, sorted(set(statuses))
        assert slowest < 10, f"a submit took {slowest:.1f} s"
        client = redis_server.client()

        def unfinished() -> dict[str, str]:
            pipe = client.pipeline()
            for job_id in accepted:
                pipe.hget(job_key(job_id), "status")
            states = dict(zip(accepted, pipe.execute(), strict=True))
            return {j: (s or b"MISSING").decode() for j, s in states.items()
                    if (s or b"").decode() not in TERMINAL}

        try:
            wait_until(lambda: not unfinished(), 120, "every accepted job to end", interval=1)
        except TimeoutError:
            raise AssertionError(f"{len(accepted)} accepted, unfinished: {unfinished()}") \
                from None
        with httpx.Client(base_url=gateway.url, timeout=15) as c:
            results = {job(c, job_id)["result"] for job_id in accepted}
        assert results == {500500}, results
    finally:
        stop.set()
        thread.join(30)
