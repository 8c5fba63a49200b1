"""Where deliveries wait, read straight from Redis for the tests and the benchmark: due at
their destination (tasks/webhooks/destinations.lua), or in flight under a lease."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from tasks.redis.keys import (
    DEST_DUE_PREFIX,
    INFLIGHT_KEY,
    LEGACY_DUE_KEY,
    delivery_key,
    destination_due_key,
)


def due_count(client: redis.Redis) -> int:
    """Deliveries due now or later, over every destination (and the old due set)."""
    total = int(client.zcard(LEGACY_DUE_KEY))
    for key in client.scan_iter(match=f"{DEST_DUE_PREFIX}*", count=1000):
        total += int(client.zcard(key))
    return total


def nothing_pending(client: redis.Redis) -> bool:
    """No delivery is due or in flight."""
    return due_count(client) == 0 and client.zcard(INFLIGHT_KEY) == 0


def pending_ids(client: redis.Redis, ids: Sequence[str]) -> set[str]:
    """Those of `ids` that are due at their destination or in flight."""
    with client.pipeline(transaction=False) as pipe:
        for delivery_id in ids:
            pipe.hget(delivery_key(delivery_id), "destination")
        destinations = pipe.execute()
    with client.pipeline(transaction=False) as pipe:
        for delivery_id, dest in zip(ids, destinations, strict=True):
            pipe.zscore(destination_due_key(dest.decode()) if dest else LEGACY_DUE_KEY,
                        delivery_id)
            pipe.zscore(INFLIGHT_KEY, delivery_id)
        scores = pipe.execute()
    return {i for n, i in enumerate(ids)
            if scores[2 * n] is not None or scores[2 * n + 1] is not None}
