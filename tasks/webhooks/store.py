"""The webhook store: registered endpoints, deliveries and their attempt log, in Redis.

The gateway (registration, listing, replay) and the dispatcher (claim, complete) share it.
Every state change of a delivery is one Lua script; deliveries themselves are created by
the job transition script (tasks/jobs/transition.lua), at the terminal status. Each belongs
to a destination (a registered endpoint, or a callback URL's origin, per tenant): the
scripts that make deliveries due share tasks/webhooks/destinations.lua, which keeps the
schedule the claim reads to share the dispatchers' slots fairly and to cap each destination;
the claim, the recording of outcomes and the deletion of an endpoint also share
tasks/webhooks/breaker.lua, each destination's circuit breaker, whose state the endpoint
and delivery views read here (tasks/webhooks/flow.py).

Endpoint signing secrets are stored sealed (tasks/webhooks/secret_box.py): the store seals
each one it makes, and hands the dispatcher the sealed values to open when it signs.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import redis.asyncio as aioredis

from tasks.redis.keys import (
    DEAD_KEY,
    INFLIGHT_KEY,
    LEGACY_DUE_KEY,
    attempts_key,
    delivery_key,
    destination_breaker_key,
    endpoint_key,
    endpoints_key,
    job_deliveries_key,
    paused_key,
)
from tasks.redis.lua import load_script
from tasks.redis.replies import as_text
from tasks.webhooks.config import new_webhook_secret
from tasks.webhooks.flow import BreakerPolicy
from tasks.webhooks.model import (
    MAX_ENDPOINTS,
    Delivery,
    DeliveryAttempt,
    WebhookEndpoint,
    destination_of_endpoint,
    endpoint_events_field,
)
from tasks.webhooks.secret_box import SecretBox

# Every script that makes a delivery due keeps the destinations' schedule: the library first;
# those that move a destination's breaker, the breaker's library after it.
LIBRARY = "destinations.lua"
BREAKER = "breaker.lua"
# The scripts that record outcomes, dead-letter or resend also keep the failed-message index
# and emit operational events (disable_endpoint, message_exhausted): those libraries next.
OUTCOME_LIBRARIES = (LIBRARY, BREAKER, "failed_index.lua", "operational.lua")
CLAIM_LUA = load_script("tasks.webhooks", *OUTCOME_LIBRARIES, "deliveries_claim.lua")
COMPLETE_LUA = load_script("tasks.webhooks", *OUTCOME_LIBRARIES, "deliveries_complete.lua")
RESUME_LUA = load_script("tasks.webhooks", *OUTCOME_LIBRARIES, "deliveries_resume.lua")
DELETE_ENDPOINT_LUA = load_script("tasks.webhooks", LIBRARY, BREAKER, "endpoint_delete.lua")
ROTATION_LUA = load_script("tasks.webhooks", "endpoint_rotate_secret.lua")
REGISTER_LUA = load_script("tasks.webhooks", "endpoint_register.lua")
RESEAL_LUA = load_script("tasks.webhooks", "endpoint_reseal.lua")  # tasks/webhooks/reseal.py
RATE_LIMIT_LUA = load_script("tasks.webhooks", "endpoint_rate_limit.lua")

NO_BREAKER = BreakerPolicy(failures=0, cooldown=0.0, max_cooldown=0.0, disable_after=0.0)

ENDPOINT_ID = re.compile(r"^wh_[0-9a-f]{32}$")
DELIVERY_ID = re.compile(r"^msg_[0-9a-f]{32}$")

Outcome = Literal["succeeded", "retry", "dead", "gone"]
# What an attempt tells its destination's breaker: a success, a failure that counts towards
# opening it, or neither (worker/webhooks/retry_policy.py decides).
BreakerSignal = Literal["ok", "fail", ""]
RedeliverResult = Literal["ok", "missing", "sending", "endpoint_deleted", "endpoint_disabled"]


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery a dispatcher holds the lease of: send one attempt, then complete it."""

    token: str
    fields: dict[str, str]  # the delivery hash (incl. the job snapshot)
    endpoint: dict[str, str]  # the endpoint's sealed secrets, empty for a per-job callback

    @property
    def id(self) -> str:
        return self.fields["id"]


@dataclass(frozen=True, slots=True)
class RecoverBatch:
    result: Literal["ok", "missing", "disabled"]
    resumed: int  # failed or dead-lettered messages made due now
    pending: int  # already due (e.g. by an earlier recover): left as they are
    sending: int  # in flight right now: left alone
    next: tuple[str, str] | None  # (id, score) to continue from; None: done


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    """What registration did: `endpoint` and its `secret` (shown to the caller once), or
    nothing because the tenant has `existing_id` for that URL already, or is `full`."""

    endpoint: WebhookEndpoint | None = None
    secret: str = ""
    existing_id: str | None = None
    full: bool = False


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    delivery_id: str
    token: str
    outcome: Outcome
    retry_delay: float
    error: str | None
    attempt: DeliveryAttempt
    breaker: BreakerSignal = ""


class WebhookStore:
    def __init__(self, client: aioredis.Redis, box: SecretBox) -> None:
        self.client = client
        self.box = box
        self._register = client.register_script(REGISTER_LUA)
        self._claim = client.register_script(CLAIM_LUA)
        self._complete = client.register_script(COMPLETE_LUA)
        self._resume = client.register_script(RESUME_LUA)
        self._delete = client.register_script(DELETE_ENDPOINT_LUA)
        self._rotate = client.register_script(ROTATION_LUA)
        self._rate_limit = client.register_script(RATE_LIMIT_LUA)

    # --- endpoints -------------------------------------------------------------------

    async def add_endpoint(
        self, tenant: str, url: str, events: tuple[str, ...] | None, description: str,
        rate_limit: int | None = None, most: int = MAX_ENDPOINTS,
    ) -> NewEndpoint:
        """A new enabled endpoint and its secret, stored sealed; unless the tenant has an
        endpoint for `url` already (give it canonical) or `most` endpoints."""
        endpoint_id = "wh_" + uuid.uuid4().hex
        secret = new_webhook_secret()
        fields = {"id": endpoint_id, "url": url, "events": endpoint_events_field(events),
                  "description": description, "enabled": "1", "secret": self.box.seal(secret),
                  "tenant": tenant, "created_at": repr(time.time())}
        if rate_limit is not None:
            fields["rate_limit"] = str(rate_limit)
        reply = await self._register(
            keys=[endpoints_key(tenant), endpoint_key(endpoint_id)],
            args=[most, endpoint_id, url, *(x for pair in fields.items() for x in pair)])
        verdict = as_text(reply[0])
        if verdict == "exists":
            return NewEndpoint(existing_id=as_text(reply[1]))
        if verdict == "full":
            return NewEndpoint(full=True)
        return NewEndpoint(WebhookEndpoint.from_fields(fields), secret)

    async def get_endpoint(self, endpoint_id: str, tenant: str) -> WebhookEndpoint | None:
        """The endpoint with its breaker's state, as `tenant`'s destination (the caller
        checks the endpoint is the tenant's)."""
        if not ENDPOINT_ID.match(endpoint_id):
            return None
        found = await self._endpoints(tenant, [endpoint_id])
        return found[0] if found else None

    async def list_endpoints(self, tenant: str) -> list[WebhookEndpoint]:
        ids = sorted(as_text(i) for i in await self.client.smembers(endpoints_key(tenant)))
        endpoints = await self._endpoints(tenant, ids)
        return sorted(endpoints, key=lambda e: (e.created_at, e.id))

    async def _endpoints(self, tenant: str, ids: Sequence[str]) -> list[WebhookEndpoint]:
        async with self.client.pipeline(transaction=False) as pipe:
            for endpoint_id in ids:
                pipe.hgetall(endpoint_key(endpoint_id))
                pipe.hgetall(destination_breaker_key(destination_of_endpoint(tenant,
                                                                             endpoint_id)))
            replies = await pipe.execute()
        return [WebhookEndpoint.from_fields(f, breaker)
                for f, breaker in zip(replies[::2], replies[1::2], strict=True) if f]

    async def set_rate_limit(self, endpoint_id: str, rate_limit: int | None) -> bool:
        """Set (None: clear) its deliveries per second; False when there is no such endpoint."""
        if not ENDPOINT_ID.match(endpoint_id):
            return False
        done = await self._rate_limit(keys=[endpoint_key(endpoint_id)],
                                      args=["" if rate_limit is None else str(rate_limit)])
        return bool(done)

    async def delete_endpoint(self, tenant: str, endpoint_id: str) -> bool:
        if not ENDPOINT_ID.match(endpoint_id):
            return False
        existed = await self._delete(
            keys=[endpoint_key(endpoint_id), endpoints_key(tenant), paused_key(endpoint_id)],
            args=[endpoint_id, destination_of_endpoint(tenant, endpoint_id)])
        return bool(existed)

    async def rotate_secret(self, endpoint_id: str, grace_seconds: float) -> str | None:
        """A new secret (None: no such endpoint); the old one signs too until the grace ends."""
        if not ENDPOINT_ID.match(endpoint_id):
            return None
        secret = new_webhook_secret()
        now = time.time()
        done = await self._rotate(keys=[endpoint_key(endpoint_id)],
                                  args=[self.box.seal(secret), repr(now + grace_seconds),
                                        repr(now)])
        return secret if done else None

    async def enable_endpoint(self, endpoint_id: str) -> int | None:
        """Enable it; returns how many held messages are now due (None: no such endpoint)."""
        if not ENDPOINT_ID.match(endpoint_id):
            return None
        resumed = int(await self._resume(keys=[DEAD_KEY], args=["enable", endpoint_id]))
        return None if resumed < 0 else resumed

    # --- deliveries ------------------------------------------------------------------

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        found = await self.get_deliveries([delivery_id]) if DELIVERY_ID.match(delivery_id) else []
        return found[0] if found else None

    async def job_deliveries(self, job_id: str) -> list[Delivery]:
        ids = [as_text(i) for i in await self.client.lrange(job_deliveries_key(job_id), 0, -1)]
        return await self.get_deliveries(ids)

    async def get_deliveries(self, ids: Sequence[str]) -> list[Delivery]:
        """The deliveries with their attempt logs (missing ones left out), then the breakers
        of their destinations: two round trips."""
        async with self.client.pipeline(transaction=False) as pipe:
            for delivery_id in ids:
                pipe.hgetall(delivery_key(delivery_id))
                pipe.lrange(attempts_key(delivery_id), 0, -1)
            replies = await pipe.execute()
        found = [({as_text(k): as_text(v) for k, v in fields.items()}, log)
                 for fields, log in zip(replies[::2], replies[1::2], strict=True) if fields]
        destinations = sorted({f["destination"] for f, _ in found if "destination" in f})
        breakers: dict[str, Any] = {}
        if destinations:
            async with self.client.pipeline(transaction=False) as pipe:
                for dest in destinations:
                    pipe.hgetall(destination_breaker_key(dest))
                breakers = dict(zip(destinations, await pipe.execute(), strict=True))
        return [Delivery.from_fields(fields, tuple(DeliveryAttempt.from_json(a) for a in log),
                                     breakers.get(fields.get("destination", "")))
                for fields, log in found]

    async def redeliver(self, delivery_id: str) -> RedeliverResult:
        if not DELIVERY_ID.match(delivery_id):
            return "missing"
        result: RedeliverResult = as_text(await self._resume(
            keys=[DEAD_KEY], args=["redeliver", delivery_id]))  # type: ignore[assignment]
        return result

    async def recover_batch(
        self, tenant: str, endpoint_id: str, since: float, until: float | None,
        after: tuple[str, str] | None, most: int,
    ) -> RecoverBatch:
        """Resend up to `most` of the endpoint's failed messages created in [since, until],
        from `after` (the previous batch's `next`) on, each through the redelivery path;
        one atomic call (deliveries_resume.lua, mode recover)."""
        reply = await self._resume(keys=[DEAD_KEY], args=[
            "recover", endpoint_id, tenant, repr(since),
            "+inf" if until is None else repr(until),
            after[1] if after else "", after[0] if after else "", most])
        found = orjson.loads(reply)
        nxt = found.get("next")
        return RecoverBatch(found["result"], int(found.get("resumed", 0)),
                            int(found.get("pending", 0)), int(found.get("sending", 0)),
                            (str(nxt[0]), str(nxt[1])) if nxt else None)

    # --- the dispatcher's side -------------------------------------------------------

    async def claim(
        self, most: int, lease_seconds: float, per_destination: int,
        tenant_per_second: int = 0,
    ) -> tuple[float | None, list[ClaimedDelivery]]:
        """Up to `most` due deliveries, round robin across tenants and their destinations,
        none for a destination that already has `per_destination` attempts in flight
        (counted over every dispatcher), whose breaker is open, or that is over its rate
        (its endpoint's `rate_limit`, or its tenant's `tenant_per_second`, 0: none) this
        second, leased for `lease_seconds`; and the seconds until another claim may find
        one (None: nothing is waiting)."""
        wait, claimed = await self._claim(keys=[INFLIGHT_KEY, DEAD_KEY, LEGACY_DUE_KEY],
                                          args=[most, repr(lease_seconds), per_destination,
                                                tenant_per_second])
        seconds = float(wait)
        return (None if seconds < 0 else seconds), [
            ClaimedDelivery(c["token"], c["delivery"], c.get("endpoint") or {})
            for c in orjson.loads(claimed)
        ]

    async def complete(self, outcomes: Sequence[AttemptOutcome],
                       dead_letter_retention: float = 7 * 24 * 3600,
                       breaker: BreakerPolicy = NO_BREAKER) -> None:
        batch = orjson.dumps([[o.delivery_id, o.token, o.outcome, o.retry_delay, o.error or "",
                               o.attempt.to_json().decode(), o.breaker] for o in outcomes])
        await self._complete(keys=[INFLIGHT_KEY, DEAD_KEY],
                             args=[batch, repr(dead_letter_retention), *breaker.args()])
