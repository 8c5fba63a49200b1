"""Queues per function (tasks/queues.py) with real workers: `python -m worker` runs one
Celery worker per queue (worker/jobs/per_queue.py), so a short job is not held up by a
long job running on the other queue; `-Q` restricts what a worker consumes; a stop sent to
the parent alone reaches both workers, and a long job given back at the end of the grace
period goes back to the long queue.

Limits come from measurement on this machine (the short jobs' own time while nothing else
runs), never from a fixed sleep; a long job's state is the proof that the short one passed
it rather than followed it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import httpx
import psutil
import pytest
import redis

from tasks.jobs.record import as_text
from tasks.redis.keys import WORKERS_KEY, job_key
from tests.support.helpers import job, submit_sum, submit_wait, wait_for_status
from tests.support.launcher import Launcher
from tests.support.servers import ROOT, RedisServer, Service, stack_env, wait_until

LONG_QUEUE = "celery.long"
LONG_SECONDS = 30.0  # never waited for: the test ends it first
GRACE_SECONDS = 1.0


@dataclass
class QueueStack:
    env: dict[str, str]
    client: httpx.Client
    redis: redis.Redis


@pytest.fixture(scope="module")
def stack(module_launch: Launcher, own_redis: RedisServer) -> Iterator[QueueStack]:
    env = stack_env(own_redis.url, CELERY_LONG_QUEUE=LONG_QUEUE, WORKER_CONCURRENCY="1",
                    WORKER_SHUTDOWN_GRACE_SECONDS=f"{GRACE_SECONDS:g}")
    gateway = module_launch.gateway(env, require_workers=False)
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        yield QueueStack(env, client, own_redis.client())


def start_consuming(launch: Launcher, stack: QueueStack, name: str, nodes: int,
                    options: tuple[str, ...] = ()) -> Service:
    """A `python -m worker` once its `nodes` Celery workers beat (they consume by then)."""
    worker = launch.worker(stack.env, name, options=options)

    def beating() -> bool:
        names = [as_text(n) for n in cast(list[bytes], stack.redis.zrange(WORKERS_KEY, 0, -1))]
        return sum(n.startswith(name + "-") for n in names) == nodes

    try:
        wait_until(beating, 120, f"{nodes} worker(s) of {name}")
    except TimeoutError:
        raise TimeoutError(worker.log_tail()) from None
    return worker


def test_q_restricts_what_a_worker_consumes(stack: QueueStack, launch: Launcher) -> None:
    """A worker of the long queue only runs a long job submitted after a short one, and
    leaves the short one waiting in its queue."""
    start_consuming(launch, stack, "queues-long-only", 1, ("-Q", "long"))
    short = submit_sum(stack.client, 10)
    long = submit_wait(stack.client, 0.1)
    assert wait_for_status(stack.client, long, timeout=60)["status"] == "SUCCEEDED"
    assert job(stack.client, short)["status"] == "QUEUED"
    assert stack.redis.llen("celery") == 1 and stack.redis.llen(LONG_QUEUE) == 0
    assert stack.client.delete(f"/producer/api/jobs/{short}").status_code == 200


def test_a_long_job_does_not_delay_short_ones(stack: QueueStack, launch: Launcher) -> None:
    """One pool process per queue: a short job submitted while a long one runs ends while
    the long one still runs, in about the time a short job takes on an idle worker. Then a
    stop sent to the parent alone stops both workers, and the long job, still running after
    the grace period, is back in the long queue."""
    worker = start_consuming(launch, stack, "queues-all", 2)
    idle = []
    for _ in range(3):
        began = time.monotonic()
        assert wait_for_status(stack.client, submit_sum(stack.client, 10),
                               timeout=60)["status"] == "SUCCEEDED"
        idle.append(time.monotonic() - began)
    bound = 4 * max(idle) + 1.0  # the slowest idle short job, with room for a busy machine

    long = submit_wait(stack.client, LONG_SECONDS)
    wait_for_status(stack.client, long, {"STARTED"}, timeout=60)
    began = time.monotonic()
    short = submit_sum(stack.client, 10)
    assert wait_for_status(stack.client, short, timeout=bound)["status"] == "SUCCEEDED"
    took = time.monotonic() - began
    assert job(stack.client, long)["status"] == "STARTED", "the short job waited for the long"
    assert took <= bound, (took, idle)
    nodes = {stack.redis.hget(job_key(j), "worker") for j in (short, long)}
    assert len(nodes) == 2, nodes  # each ran on its queue's own worker

    processes = worker.children()  # both queues' workers and their pool processes
    os.kill(worker.pid, signal.SIGTERM)  # the parent only, as make up's supervisor does
    assert worker.proc is not None
    worker.proc.wait(timeout=GRACE_SECONDS + bound + 30)
    wait_until(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE
                               for p in processes), 10, "the queues' workers to end")
    record = wait_for_status(stack.client, long, {"QUEUED"}, timeout=bound)
    assert record["attempts"] == 1
    assert stack.redis.llen(LONG_QUEUE) == 1 and stack.redis.llen("celery") == 0
    assert stack.client.delete(f"/producer/api/jobs/{long}").status_code == 200


def test_an_unknown_queue_is_refused_by_name(stack: QueueStack) -> None:
    done = subprocess.run([sys.executable, "-m", "worker", "-Q", "short,medium"], env=stack.env,
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert ("unknown queue 'medium': this worker can consume short, long, celery, celery.long"
            in done.stderr)


def test_a_queues_worker_that_dies_stops_the_others(stack: QueueStack,
                                                    launch: Launcher) -> None:
    """The long queue's Celery worker SIGKILLed: the parent stops the short queue's (a warm
    shutdown) and exits with the dead one's status, for its supervisor to restart it all."""
    worker = start_consuming(launch, stack, "queues-dying", 2)
    queues_workers = psutil.Process(worker.pid).children()  # not their pool processes
    [long_worker] = [p for p in queues_workers if LONG_QUEUE in p.cmdline()]
    [short_worker] = [p for p in queues_workers if p is not long_worker]
    long_worker.send_signal(signal.SIGKILL)
    assert worker.proc is not None
    assert worker.proc.wait(timeout=60) == 128 + signal.SIGKILL
    wait_until(lambda: not short_worker.is_running()
               or short_worker.status() == psutil.STATUS_ZOMBIE, 10, "the short queue's worker")
