"""Lost workers: each worker run stamps itself alive; the running jobs of a run whose stamp
is older than WORKER_LOST_AFTER_SECONDS go back to their queue at once (worker_lost.lua),
instead of an hour later at kombu's visibility timeout.

A run is one start of a worker process, named `hostname/pid.token`: a worker started
again under the same hostname after a crash is a new run, so its fresh stamps never hide
the crashed run's jobs. The worker names its run in each job's STARTED transition (with
the message's delivery tag); every live worker's heartbeat calls `hand_back`.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass

import redis

from tasks.jobs.store import WORKER_LOST_LUA
from tasks.redis.keys import (
    KOMBU_BINDING_PREFIX,
    KOMBU_SEP,
    KOMBU_UNACKED_INDEX_KEY,
    KOMBU_UNACKED_KEY,
)
from tasks.redis.replies import as_text

RUNS_PER_CALL = 10  # bounds how long one call holds Redis


def new_run_token() -> str:
    """What tells this start of a worker process from any other start under its hostname."""
    return f"{os.getpid()}.{secrets.token_hex(4)}"


def run_name(hostname: str, token: str) -> str:
    return f"{hostname}/{token}"


@dataclass(frozen=True, slots=True)
class LostRun:
    run: str
    jobs: tuple[tuple[str, str], ...]  # (job id, function) of each job handed back

    @property
    def hostname(self) -> str:
        return self.run.rpartition("/")[0]


class LostWorkers:
    """The hand-back of lost runs' jobs (Redis broker only; the heartbeat stamps the runs
    in WORKER_RUNS_KEY)."""

    def __init__(self, client: redis.Redis, lost_after: float,
                 unacked_key: str = KOMBU_UNACKED_KEY,
                 unacked_index_key: str = KOMBU_UNACKED_INDEX_KEY) -> None:
        self.client = client
        self.lost_after = lost_after
        self._keys = [unacked_key, unacked_index_key]
        self._hand_back = client.register_script(WORKER_LOST_LUA)

    def hand_back(self, now: float | None = None) -> list[LostRun]:
        """Hand back the running jobs of runs silent for `lost_after` seconds, and forget
        those runs; returns them (with no jobs for a run that had none running)."""
        now = time.time() if now is None else now
        reply = self._hand_back(keys=self._keys, args=[
            repr(now - self.lost_after), repr(now), RUNS_PER_CALL, KOMBU_BINDING_PREFIX,
            KOMBU_SEP, f"{self.lost_after:g}"])
        runs, at = [], 0
        while at < len(reply):
            run, count = as_text(reply[at]), int(reply[at + 1])
            pairs = reply[at + 2:at + 2 + 2 * count]
            runs.append(LostRun(run, tuple(zip(map(as_text, pairs[::2]),
                                               map(as_text, pairs[1::2]), strict=True))))
            at += 2 + 2 * count
        return runs
