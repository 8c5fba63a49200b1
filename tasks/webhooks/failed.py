"""Reading the failed-message index (kept by tasks/webhooks/failed_index.lua): a tenant's, or
one endpoint's, failed or dead-lettered messages, newest first, a page at a time.

The index holds exactly the messages that match (no filter is applied while reading), so a
page is full unless it is the last one. The only entries skipped are those of deliveries
that expired since they were indexed: they are removed on the way and the page is filled
from further on (tasks/redis/time_index.py reads after a position).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from tasks.redis.keys import failed_index_key
from tasks.redis.time_index import Position, read_after
from tasks.webhooks.model import Delivery
from tasks.webhooks.store import WebhookStore


@dataclass(frozen=True, slots=True)
class FailedPage:
    deliveries: list[tuple[Position, Delivery]]
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

    async def page(self, tenant: str, endpoint_id: str | None, dead: bool,
                   since: float | None, until: float | None, after: Position | None,
                   first: int) -> FailedPage:
        key = index_key(tenant, endpoint_id, dead)
        collected: list[tuple[Position, Delivery]] = []
        position = after
        while len(collected) <= first:
            want = first + 1 - len(collected)
            entries = await read_after(self.client, key, position, want, since, until)
            if not entries:
                break
            position = entries[-1]
            found = {d.id: d for d in
                     await self.store.get_deliveries([e.id for e in entries])}
            gone = [e.id for e in entries if e.id not in found]
            if gone:
                await self.client.zrem(key, *gone)
            collected += [(e, found[e.id]) for e in entries if e.id in found]
            if len(entries) < want:
                break
        return FailedPage(collected[:first], len(collected) > first)
