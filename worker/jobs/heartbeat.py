"""A thread in the worker's main process that stamps the worker as alive in Redis, and
pushes back job messages the Redis broker lost (tasks/jobs/recover.lua)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

import redis
from celery import signals
from redis.exceptions import RedisError

from tasks.heartbeat import ALIVE_WINDOW_SECONDS, INTERVAL_SECONDS, WORKERS_KEY
from tasks.jobs.store import JobStore, redis_client_options
from tasks.settings import get_settings

log = logging.getLogger("worker.heartbeat")
RECOVERY_AFTER_SECONDS = 30.0
_stop = threading.Event()


def _client() -> redis.Redis:
    """Without the job store's outage retries: a missed stamp is harmless, and a worker
    shutting down after Redis must not wait for it."""
    settings = get_settings()
    return redis.Redis.from_url(settings.effective_redis_url, **redis_client_options(settings))


def _beat(hostname: str) -> None:
    client = _client()
    recovery = JobStore(client) if get_settings().broker_is_redis else None
    while not _stop.is_set():
        try:
            if recovery is not None:
                # kombu can lose a message when a worker dies at the wrong instant; jobs
                # waiting longer than this are checked and their message pushed back.
                requeued = recovery.requeue_lost(older_than=RECOVERY_AFTER_SECONDS, most=20)
                if requeued:
                    log.warning("pushed back %d lost job message(s)", requeued)
            now = time.time()
            client.zadd(WORKERS_KEY, {hostname: now})
            client.zremrangebyscore(WORKERS_KEY, "-inf", now - 10 * ALIVE_WINDOW_SECONDS)
        except RedisError as exc:
            log.warning("heartbeat failed: %s", exc)
        _stop.wait(INTERVAL_SECONDS)


@signals.worker_ready.connect
def start(sender: Any, **_: Any) -> None:
    hostname = getattr(sender, "hostname", "worker")
    threading.Thread(target=_beat, args=(hostname,), name="gw-heartbeat", daemon=True).start()


@signals.worker_shutdown.connect
def stop(sender: Any, **_: Any) -> None:
    _stop.set()
    with contextlib.suppress(RedisError):
        _client().zrem(WORKERS_KEY, getattr(sender, "hostname", "worker"))
