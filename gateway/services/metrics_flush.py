"""This gateway process's counts, added to the Redis totals of every gateway process.

The hot path counts in memory (gateway/services/metrics.py). About once a second, before
answering a scrape, and once more when the process stops, MetricsFlusher adds what was
counted since the last flush to the Redis hashes of tasks/metrics.py, in one MULTI/EXEC.
So /metrics through NGINX shows the same totals whichever gateway process answers (on one
machine or many), and Prometheus never sees a counter go back. The cost: a scrape may miss
the last second of the other processes' counts, a process killed hard loses its last
second, and an idle process writes nothing. A failed flush keeps its counts for the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import redis.asyncio as aioredis
from prometheus_client import Counter, Histogram
from redis.exceptions import RedisError

from tasks.metrics import RedisCounter, RedisHistogram

log = logging.getLogger("gateway.metrics")

FLUSH_SECONDS = 1.0
Series = tuple[str, str, str]  # Redis command, key, field
Mirrored = Sequence[tuple[Counter | Histogram, RedisCounter | RedisHistogram]]


class MetricsFlusher:
    def __init__(self, client: aioredis.Redis, mirrored: Mirrored) -> None:
        self._client = client
        self._mirrored = mirrored
        # Counted before this flusher existed is not its to add (another app of the same
        # process, in the tests, added it already).
        self._flushed = self._counted()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def _counted(self) -> dict[Series, float]:
        """Everything this process counted so far, as totals per Redis series."""
        counted: dict[Series, float] = {}
        for local, remote in self._mirrored:
            for family in local.collect():
                for command, key, field, amount in remote.totals(family):
                    counted[(command, key, field)] = amount
        return counted

    async def flush(self) -> None:
        """Add the counts since the last flush to Redis; RedisError leaves them for the next."""
        async with self._lock:
            counted = self._counted()
            changes = [(series, amount - self._flushed.get(series, 0))
                       for series, amount in counted.items()
                       if amount != self._flushed.get(series, 0)]
            if not changes:
                return
            async with self._client.pipeline(transaction=True) as pipe:
                for (command, key, field), amount in changes:
                    getattr(pipe, command)(key, field, amount)
                await pipe.execute()
            self._flushed = counted

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except RedisError as exc:
                if not failing:  # once per outage, not every second
                    log.warning("metrics not added to Redis yet (kept for later): %s", exc)
                failing = True
            else:
                failing = False

    async def aclose(self) -> None:
        """Stop flushing, after a last flush of what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await self.flush()
        except RedisError as exc:
            log.warning("the last metrics were not added to Redis: %s", exc)
