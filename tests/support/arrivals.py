"""Waiting until what a receiver got is final: every message it saw settled, with as many
attempts recorded as requests arrived (the end-to-end webhook tests' "nothing more")."""

from __future__ import annotations

from collections import Counter

import redis

from tests.support.delivery_schedule import pending_ids
from tests.support.fault_helpers import delivery_fields
from tests.support.servers import wait_until
from tests.support.webhook_receiver import Received, Receiver


def settled_arrivals(client: redis.Redis, receiver: Receiver, hook: str,
                     timeout: float = 30) -> list[Received]:
    """What `receiver` got on `hook`, once no attempt of those messages can still be on its
    way: each is settled (neither due nor in flight) and has as many attempts recorded as
    requests arrived. A dispatcher records every attempt it made, a late one whose lease
    was lost too (tasks/webhooks/deliveries_complete.lua), after the receiver answered it:
    so an extra attempt shows here as one more arrival, or as a delivery not yet settled."""
    arrived: Counter[str] = Counter()

    def quiet() -> bool:
        nonlocal arrived
        arrived = Counter(r.webhook_id for r in receiver.received(hook))
        ids = list(arrived)
        fields = delivery_fields(client, ids, "status", "attempts")
        return not pending_ids(client, ids) and all(
            fields[i][0] in {"SUCCEEDED", "DEAD_LETTERED", "PAUSED"}
            and int(fields[i][1] or 0) == n for i, n in arrived.items())

    try:
        wait_until(quiet, timeout, f"the attempts on {hook} to settle", interval=0.05)
    except TimeoutError:
        raise AssertionError(f"arrived {dict(arrived)} on {hook}, not all settled") from None
    return receiver.received(hook)
