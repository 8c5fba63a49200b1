"""A thread in the worker's main process that stamps the worker as alive in Redis, and
pushes back job messages the Redis broker lost (tasks/jobs/recover.lua)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from celery import signals
from redis.exceptions import RedisError

from tasks.heartbeat import ALIVE_WINDOW_SECONDS, INTERVAL_SECONDS
from tasks.jobs.store import JobStore
from tasks.redis.clients import Outage, sync_client
from tasks.redis.keys import WORKERS_KEY
from tasks.settings import Settings

log = logging.getLogger("worker.heartbeat")
RECOVERY_AFTER_SECONDS = 30.0


class Heartbeat:
    """Started when the worker is ready, stopped (and its stamp removed) at shutdown."""

    def __init__(self, settings: Settings) -> None:
        # Without the job store's outage retries: a missed stamp is harmless, and a worker
        # shutting down after Redis must not wait for it.
        self.client = sync_client(settings, Outage.FAIL_FAST)
        self.recovery = JobStore(self.client) if settings.broker_is_redis else None
        self._stop = threading.Event()

    def connect(self) -> None:
        signals.worker_ready.connect(self.start, weak=False)
        signals.worker_shutdown.connect(self.stop, weak=False)

    def start(self, sender: Any, **_: Any) -> None:
        hostname = getattr(sender, "hostname", "worker")
        threading.Thread(target=self._beat, args=(hostname,), name="gw-heartbeat",
                         daemon=True).start()

    def stop(self, sender: Any, **_: Any) -> None:
        self._stop.set()
        with contextlib.suppress(RedisError):
            self.client.zrem(WORKERS_KEY, getattr(sender, "hostname", "worker"))

    def _beat(self, hostname: str) -> None:
        while not self._stop.is_set():
            try:
                if self.recovery is not None:
                    # kombu can lose a message when a worker dies at the wrong instant; jobs
                    # waiting longer than this are checked and their message pushed back.
                    requeued = self.recovery.requeue_lost(older_than=RECOVERY_AFTER_SECONDS,
                                                          most=20)
                    if requeued:
                        log.warning("pushed back %d lost job message(s)", requeued)
                now = time.time()
                self.client.zadd(WORKERS_KEY, {hostname: now})
                self.client.zremrangebyscore(WORKERS_KEY, "-inf", now - 10 * ALIVE_WINDOW_SECONDS)
            except RedisError as exc:
                log.warning("heartbeat failed: %s", exc)
            self._stop.wait(INTERVAL_SECONDS)
