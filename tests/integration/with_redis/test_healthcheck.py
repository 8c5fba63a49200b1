"""The worker's healthcheck (worker/jobs/healthcheck.py) against a real Redis: it reads the
heartbeat, and answers within 2 s while Redis is hung or gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tasks.redis import keys
from tasks.settings import Settings
from tests.support.servers import ROOT, RedisServer, stack_env
from worker.jobs.healthcheck import check


def test_healthcheck_reads_the_heartbeat(fresh_redis: RedisServer) -> None:
    settings = Settings(redis_url=fresh_redis.url)
    assert check(settings, "celery@nobody") == "no recent heartbeat from celery@nobody"
    fresh_redis.client().zadd(keys.WORKERS_KEY, {"celery@here": time.time()})
    assert check(settings, "celery@here") is None
    env = stack_env(fresh_redis.url)
    done = subprocess.run([sys.executable, "-m", "worker.jobs.healthcheck", "celery@here"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_healthcheck_unhealthy_within_two_seconds(fresh_redis: RedisServer) -> None:
    """Redis hung (stopped with SIGSTOP: connections are accepted, nothing answers), then
    gone: either way the answer is "unhealthy" within 2 s, a container healthcheck's budget."""
    settings = Settings(redis_url=fresh_redis.url)
    os.kill(fresh_redis.pid, signal.SIGSTOP)
    started = time.monotonic()
    problem = check(settings, "celery@here")
    hung = time.monotonic() - started
    assert problem is not None and problem.startswith("Redis:"), problem
    os.kill(fresh_redis.pid, signal.SIGCONT)
    fresh_redis.stop()
    started = time.monotonic()
    problem = check(settings, "celery@here")
    gone = time.monotonic() - started
    assert problem is not None and problem.startswith("Redis:"), problem
    # The bound is the client's own (one try, 1 s timeouts), not the machine's speed.
    assert hung < 2.0 and gone < 2.0, (hung, gone)
