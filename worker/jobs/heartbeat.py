"""A thread in the worker's main process that stamps the worker (and its run) as alive in
Redis and, on a Redis broker, hands back the running jobs of lost workers
(tasks/jobs/lost_workers.py) and pushes back job messages the broker lost
(tasks/jobs/recover.lua). Every live worker does both: the Lua scripts make a second run
harmless."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from celery import signals
from redis.exceptions import RedisError

from tasks import metrics
from tasks.heartbeat import ALIVE_WINDOW_SECONDS, beat_interval
from tasks.jobs.lost_workers import LostRun, LostWorkers
from tasks.jobs.store import JobStore
from tasks.redis.clients import Outage, sync_client
from tasks.redis.keys import WORKER_RUNS_KEY, WORKERS_KEY
from tasks.settings import Settings
from worker.jobs.worker_run import WorkerRun

log = logging.getLogger("worker.heartbeat")
RECOVERY_AFTER_SECONDS = 30.0


class Heartbeat:
    """Started when the worker is ready, stopped (and its hostname's stamp removed) at
    shutdown. The run's own stamp stays: should a job of the run still be STARTED, the
    other workers hand it back once the stamp is WORKER_LOST_AFTER_SECONDS old."""

    def __init__(self, settings: Settings, run: WorkerRun | None = None) -> None:
        # Without the job store's outage retries: a missed stamp is harmless, and a worker
        # shutting down after Redis must not wait for it.
        self.client = sync_client(settings, Outage.FAIL_FAST)
        self.run = run or WorkerRun(tracked=False)
        self.recovery = JobStore(self.client) if settings.broker_is_redis else None
        self.lost_after = settings.worker_lost_after_seconds
        self.lost_workers = (LostWorkers(self.client, self.lost_after)
                             if settings.broker_is_redis and self.lost_after else None)
        self.interval = beat_interval(self.lost_after)
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
                self._stamp(hostname)  # first: never take itself for lost
                if self.lost_workers is not None:
                    self._report(self.lost_workers.hand_back())
                if self.recovery is not None:
                    # kombu can lose a message when a worker dies at the wrong instant; jobs
                    # waiting longer than this are checked and their message pushed back.
                    requeued = self.recovery.requeue_lost(older_than=RECOVERY_AFTER_SECONDS,
                                                          most=20)
                    if requeued:
                        log.warning("pushed back %d lost job message(s)", requeued)
            except RedisError as exc:
                log.warning("heartbeat failed: %s", exc)
            self._stop.wait(self.interval)

    def _stamp(self, hostname: str) -> None:
        """One round trip: the hostname (what /healthz counts) and the run are alive;
        hostnames long silent are dropped."""
        now = time.time()
        with self.client.pipeline(transaction=False) as pipe:
            pipe.zadd(WORKERS_KEY, {hostname: now})
            if self.run.name:
                pipe.zadd(WORKER_RUNS_KEY, {self.run.name: now})
            pipe.zremrangebyscore(WORKERS_KEY, "-inf", now - 10 * ALIVE_WINDOW_SECONDS)
            pipe.execute()

    def _report(self, lost: list[LostRun]) -> None:
        for run in lost:
            if not run.jobs:
                continue
            log.warning("worker %s lost (no heartbeat for %g s): %d running job(s) back to "
                        "their queue: %s", run.hostname, self.lost_after,
                        len(run.jobs), " ".join(job_id for job_id, _ in run.jobs),
                        extra={"event": "worker.lost", "worker": run.hostname,
                               "worker_run": run.run,
                               "job_ids": [job_id for job_id, _ in run.jobs]})
            metrics.record(self.client, *(metrics.JOBS_RECOVERED.inc(function)
                                          for _, function in run.jobs))
