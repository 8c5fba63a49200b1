"""Reading the failed-message index (kept by tasks/webhooks/failed_index.lua): a tenant's, or
one endpoint's, failed or dead-lettered messages, newest first, a page at a time.

The index holds exactly the messages that match (no filter is applied while reading), so a
page is full unless it is the last one. The only entries skipped are those of deliveries
that expired since they were indexed: they are removed on the way and the page is filled
from further on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis

from tasks.jobs.record import as_text
from tasks.redis.keys import failed_index_key
from tasks.webhooks.model import Delivery
from tasks.webhooks.store import WebhookStore


@dataclass(frozen=True, slots=True, order=True)
class IndexPosition:
    """A place in an index: newest first is descending (created_at, id)."""

    created_at: float
    delivery_id: str


@dataclass(frozen=True, slots=True)
class FailedPage:
    deliveries: list[tuple[IndexPosition, Delivery]]
    has_next_page: bool


def index_key(tenant: str, endpoint_id: str | None, dead: bool) -> str:
    """The tenant's index, or its endpoint's: the destination "tenant|endpoint id", which is
    the caller's own by construction (another tenant's endpoint id finds nothing)."""
    if endpoint_id is None:
        return failed_index_key(tenant, dead=dead, destination=False)
    return failed_index_key(f"{tenant}|{endpoint_id}", dead=dead, destination=True)


class FailedIndex:
    def __init__(self, client: aioredis.Redis, store: WebhookStore) -> None:
        self.client = client
        self.store = store

    async def _after(self, key: str, since: float | None, until: float | None,
                     after: IndexPosition | None, count: int) -> list[IndexPosition]:
        """Up to `count` entries strictly after `after` (descending), within [since, until]."""
        low = "-inf" if since is None else repr(since)
        found: list[IndexPosition] = []
        if after is None:
            high = "+inf" if until is None else repr(until)
        else:
            # Entries sharing the cursor's time come in id order: those below its id first.
            score = repr(after.created_at)
            ties = cast("list[bytes]", await self.client.zrangebyscore(key, score, score))
            found = [IndexPosition(after.created_at, i) for i in
                     sorted((as_text(t) for t in ties), reverse=True) if i < after.delivery_id]
            high = "(" + score
        if len(found) < count:
            rest = cast("list[tuple[bytes, float]]", await self.client.zrevrangebyscore(
                key, high, low, start=0, num=count - len(found), withscores=True))
            found += [IndexPosition(float(s), as_text(m)) for m, s in rest]
        return found[:count]

    async def page(self, tenant: str, endpoint_id: str | None, dead: bool,
                   since: float | None, until: float | None, after: IndexPosition | None,
                   first: int) -> FailedPage:
        key = index_key(tenant, endpoint_id, dead)
        collected: list[tuple[IndexPosition, Delivery]] = []
        position = after
        while len(collected) <= first:
            want = first + 1 - len(collected)
            entries = await self._after(key, since, until, position, want)
            if not entries:
                break
            position = entries[-1]
            found = {d.id: d for d in
                     await self.store.get_deliveries([e.delivery_id for e in entries])}
            gone = [e.delivery_id for e in entries if e.delivery_id not in found]
            if gone:
                await self.client.zrem(key, *gone)
            collected += [(e, found[e.delivery_id]) for e in entries if e.delivery_id in found]
            if len(entries) < want:
                break
        return FailedPage(collected[:first], len(collected) > first)
