"""Sorted sets read as indexes by time, newest first, a page after a position: the job
listings (tasks/jobs/job_index.lua) and the failed webhook messages
(tasks/webhooks/failed_index.lua). Members are ids, scores their time.

Reading after a position rather than at an offset keeps a walk steady while new entries
arrive at the top, and costs the page, not the history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis

from tasks.redis.replies import as_text


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A place in an index: newest first is descending (at, id)."""

    at: float
    id: str


async def read_after(client: aioredis.Redis, key: str, after: Position | None, count: int,
                     since: float | None = None, until: float | None = None) -> list[Position]:
    """Up to `count` entries strictly after `after` (descending), within [since, until]."""
    low = "-inf" if since is None else repr(since)
    found: list[Position] = []
    if after is None:
        high = "+inf" if until is None else repr(until)
    else:
        # Entries sharing the position's time come in id order: those below its id first.
        score = repr(after.at)
        ties = cast("list[bytes]", await client.zrangebyscore(key, score, score))
        found = [Position(after.at, i) for i in sorted((as_text(t) for t in ties), reverse=True)
                 if i < after.id]
        high = "(" + score
    if len(found) < count:
        rest = cast("list[tuple[bytes, float]]", await client.zrevrangebyscore(
            key, high, low, start=0, num=count - len(found), withscores=True))
        found += [Position(float(s), as_text(m)) for m, s in rest]
    return found[:count]
