"""The shared store of persisted GraphQL documents: a Redis hash of sha256 -> document and a
sorted set of when each was last used.

Bounded by count (GRAPHQL_PERSISTED_MAX, least recently used dropped by register.lua in the
same atomic call that adds) and, per document, by the gateway's cache of valid documents,
which keeps only short ones (gateway/graphql/document_cache.py): what is stored passed
parsing and validation under the document limits first. A lookup marks the document used;
it is one round trip, and only a process that does not know the hash yet makes it."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from tasks.redis.keys import PERSISTED_QUERIES_KEY, PERSISTED_QUERIES_USED_KEY
from tasks.redis.lua import load_script

REGISTER_LUA = load_script("tasks.persisted_queries", "register.lua")


class PersistedQueryStore:
    def __init__(self, client: aioredis.Redis, max_documents: int) -> None:
        self.client = client
        self.max_documents = max_documents
        self._register = client.register_script(REGISTER_LUA)

    async def get(self, sha256: str) -> str | None:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hget(PERSISTED_QUERIES_KEY, sha256)
            pipe.zadd(PERSISTED_QUERIES_USED_KEY, {sha256: time.time()}, xx=True)
            document, _ = await pipe.execute()
        if document is None:
            return None
        return document.decode() if isinstance(document, bytes) else str(document)

    async def add(self, sha256: str, document: str) -> bool:
        """True when the document was not stored yet."""
        new = await self._register(keys=[PERSISTED_QUERIES_KEY, PERSISTED_QUERIES_USED_KEY],
                                   args=[sha256, document, time.time(), self.max_documents])
        return bool(new)
