"""Where deliveries wait, read straight from Redis for the tests and the benchmark: due at
their destination (tasks/webhooks/destinations.lua), or in flight under a lease; and for the
store's tests, deliveries made by the real terminal transition and the outcomes a dispatcher
would record for them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import redis

from tasks.jobs.record import JobStatus, as_text, new_record_fields
from tasks.jobs.store import JobStore
from tasks.redis.keys import (
    DEST_DUE_PREFIX,
    INFLIGHT_KEY,
    LEGACY_DUE_KEY,
    delivery_key,
    destination_due_key,
    job_key,
)
from tasks.webhooks.model import DeliveryAttempt
from tasks.webhooks.store import AttemptOutcome, BreakerSignal, ClaimedDelivery, Outcome


def ended_jobs(client: redis.Redis, callback: str | None, count: int = 1,
               tenant: str = "public") -> list[str]:
    """`count` jobs ended by the real terminal transition, which creates their deliveries."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for job_id in ids:
        client.hset(job_key(job_id), mapping=new_record_fields(
            job_id, "sum_to_n_job", b'{"number": 1}', time.time(), callback, tenant))
        JobStore(client).transition(job_id, JobStatus.SUCCEEDED, {"result": b"1"})
    return ids


def dest(claimed: ClaimedDelivery) -> str:
    return claimed.fields["destination"]


def outcome(claimed: ClaimedDelivery, kind: Outcome = "succeeded", status: int | None = 200,
            error: str | None = None, breaker: BreakerSignal = "ok") -> AttemptOutcome:
    """The outcome of one attempt of `claimed`, retried at once when `kind` is retry."""
    attempt = DeliveryAttempt(number=int(claimed.fields["attempts"]) + 1, at=time.time(),
                              duration_ms=1.0, status_code=status, error=error,
                              response_body="")
    return AttemptOutcome(claimed.id, claimed.token, kind, 0, error, attempt, breaker)


def succeeded(claimed: ClaimedDelivery) -> AttemptOutcome:
    return outcome(claimed)


def failed(claimed: ClaimedDelivery) -> AttemptOutcome:
    """A 500, retried at once: a failure for the destination's breaker."""
    return outcome(claimed, "retry", 500, "server_error", "fail")


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


def operational(client: redis.Redis, event: str) -> list[dict[str, str]]:
    """Every delivery of operational event `event` (tasks/webhooks/operational.lua), as its
    hash."""
    found = []
    for key in client.scan_iter(match=delivery_key("*"), count=1000):
        fields = {as_text(k): as_text(v) for k, v in client.hgetall(key).items()}
        if fields.get("event") == event:
            found.append(fields)
    return found
