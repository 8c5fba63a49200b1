"""A warm shutdown with a grace period.

Celery's warm shutdown (SIGTERM, or Ctrl-C in the worker's terminal) takes no new job and
waits for the running ones however long they take. This bounds the wait: jobs still
running WORKER_SHUTDOWN_GRACE_SECONDS after the signal are given back. Their records go
back to QUEUED, then the worker sends itself SIGQUIT, Celery's cold shutdown: it stops
their pool processes and leaves their messages unacknowledged (acks_late), and closing
the broker channel restores every unacknowledged message of this worker to its queue, so
the next worker runs them again (as another attempt). That restore needs the broker to be
up until the worker has exited: `make up` stops Redis last (infra/stack.py).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

from celery import signals
from celery.worker import state

from worker.jobs.hooks import JobHooks

log = logging.getLogger("worker.shutdown")
_POLL_SECONDS = 0.1


class GracefulShutdown:
    """Gives back the jobs still running `grace` seconds after a warm shutdown began."""

    def __init__(self, grace: float, hooks: JobHooks) -> None:
        self.grace = grace
        self.hooks = hooks
        self._started = threading.Event()

    def connect(self) -> None:
        signals.worker_shutting_down.connect(self.start_grace_period, weak=False)

    def start_grace_period(self, how: str = "", **_: Any) -> None:
        """Runs in the signal handler of the worker's main process: start the clock only."""
        if how != "Warm" or self._started.is_set():
            return
        self._started.set()
        threading.Thread(target=self._give_back_after_grace, name="gw-shutdown-grace",
                         daemon=True).start()

    def _give_back_after_grace(self) -> None:
        deadline = time.monotonic() + self.grace
        while state.active_requests and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
        # What a cold shutdown hands back (Consumer.cancel_active_requests): unacknowledged
        # late-ack jobs that have not succeeded.
        running = [request for request in tuple(state.active_requests)
                   if request.task.acks_late and not request.acknowledged
                   and request.id not in state.successful_requests]
        if not running:
            return  # the warm shutdown ends by itself
        log.warning("%d job(s) still running after the %.0f s shutdown grace period go back "
                    "to the queue", len(running), self.grace)
        for request in running:
            # A job that ends meanwhile keeps its end: a terminal status is never overwritten.
            self.hooks.given_back(request)
        os.kill(os.getpid(), signal.SIGQUIT)
