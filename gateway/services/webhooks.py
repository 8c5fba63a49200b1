"""The webhook service: registered endpoints, the delivery log and replay, written once.

REST routes (gateway/rest/routes/webhooks.py) and GraphQL resolvers are thin faces over it.
Errors are the gateway's own: InvalidInput (422 / BAD_USER_INPUT), NotFound, Conflict,
Unavailable. Secrets leave this service only in the answers of `register` and
`rotate_secret`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.services.auth import Caller
from gateway.services.errors import Conflict, InvalidInput, NotFound
from gateway.services.jobs import JobService, check_callback_url, redis_guard
from tasks.webhooks.flow import MAX_RATE_LIMIT
from tasks.webhooks.model import EVENTS, MAX_ENDPOINTS, Delivery, WebhookEndpoint
from tasks.webhooks.store import WebhookStore

MAX_DESCRIPTION_LENGTH = 500


@dataclass(frozen=True, slots=True)
class RegisteredWebhook:
    """An endpoint with its signing secret: only ever returned by register and rotate."""

    endpoint: WebhookEndpoint
    secret: str


@dataclass(frozen=True, slots=True)
class EnabledWebhook:
    endpoint: WebhookEndpoint
    resumed_deliveries: int  # messages held while it was disabled, now due


def check_events(events: Sequence[str] | None) -> tuple[str, ...] | None:
    """None: every event (also ones added later). Else known names, at least one."""
    if events is None:
        return None
    if isinstance(events, str) or not isinstance(events, Sequence):
        raise InvalidInput("events: expected a list of event names")
    unknown = sorted({e for e in events if not isinstance(e, str) or e not in EVENTS}, key=str)
    if unknown:
        raise InvalidInput(f"events: unknown event(s) {', '.join(map(repr, unknown))}; "
                           f"known events: {', '.join(EVENTS)}")
    if not events:
        raise InvalidInput("events: name at least one event, or leave it out for all")
    return tuple(e for e in EVENTS if e in events)  # canonical order, no duplicates


def check_rate_limit(rate_limit: object) -> int | None:
    """None: no limit. Else whole deliveries per second, 1 to MAX_RATE_LIMIT."""
    if rate_limit is None:
        return None
    if isinstance(rate_limit, bool) or not isinstance(rate_limit, int) or not (
            1 <= rate_limit <= MAX_RATE_LIMIT):
        raise InvalidInput(f"rate_limit: deliveries per second, a whole number from 1 to "
                           f"{MAX_RATE_LIMIT}, or null for no limit (got {rate_limit!r:.40})")
    return rate_limit


class WebhookService:
    def __init__(self, jobs: JobService) -> None:
        self.jobs = jobs
        self.settings = jobs.settings
        self.store = WebhookStore(jobs.store.client)

    # --- endpoints -------------------------------------------------------------------

    async def register(
        self, caller: Caller, url: str, events: Sequence[str] | None = None,
        description: str | None = None, rate_limit: int | None = None,
    ) -> RegisteredWebhook:
        checked_url = check_callback_url(url, self.jobs.url_policy, field="url")
        assert checked_url is not None
        wanted = check_events(events)
        rate = check_rate_limit(rate_limit)
        description = description or ""
        if len(description) > MAX_DESCRIPTION_LENGTH:
            raise InvalidInput(f"description: longer than {MAX_DESCRIPTION_LENGTH} characters")
        async with redis_guard():
            if await self.store.count_endpoints(caller.tenant) >= MAX_ENDPOINTS:
                raise Conflict(f"at most {MAX_ENDPOINTS} webhook endpoints can be registered; "
                               "delete one first")
            endpoint, secret = await self.store.add_endpoint(caller.tenant, checked_url, wanted,
                                                             description, rate)
        return RegisteredWebhook(endpoint, secret)

    async def list_endpoints(self, caller: Caller) -> list[WebhookEndpoint]:
        async with redis_guard():
            return await self.store.list_endpoints(caller.tenant)

    async def get_endpoint(self, caller: Caller, endpoint_id: str) -> WebhookEndpoint:
        """The caller's endpoint; NotFound for an unknown id or another tenant's."""
        async with redis_guard():
            endpoint = await self.store.get_endpoint(endpoint_id, caller.tenant)
        if endpoint is None or endpoint.tenant != caller.tenant:
            raise NotFound(f"no webhook endpoint with id {endpoint_id!r}")
        return endpoint

    async def set_rate_limit(self, caller: Caller, endpoint_id: str,
                             rate_limit: int | None) -> WebhookEndpoint:
        """Set its deliveries per second (None: no limit); the next claim keeps it."""
        rate = check_rate_limit(rate_limit)
        await self.get_endpoint(caller, endpoint_id)
        async with redis_guard():
            if not await self.store.set_rate_limit(endpoint_id, rate):
                raise NotFound(f"no webhook endpoint with id {endpoint_id!r}")
        return await self.get_endpoint(caller, endpoint_id)

    async def delete_endpoint(self, caller: Caller, endpoint_id: str) -> WebhookEndpoint:
        """Delete it; messages it still had pending are dead-lettered (`endpoint_deleted`)."""
        endpoint = await self.get_endpoint(caller, endpoint_id)
        async with redis_guard():
            if not await self.store.delete_endpoint(caller.tenant, endpoint_id):
                raise NotFound(f"no webhook endpoint with id {endpoint_id!r}")
        return endpoint

    async def rotate_secret(self, caller: Caller, endpoint_id: str) -> RegisteredWebhook:
        """A new secret; the old one keeps signing (beside it) for the rotation grace."""
        await self.get_endpoint(caller, endpoint_id)
        async with redis_guard():
            secret = await self.store.rotate_secret(
                endpoint_id, self.settings.webhook_secret_rotation_grace_seconds)
        if secret is None:
            raise NotFound(f"no webhook endpoint with id {endpoint_id!r}")
        return RegisteredWebhook(await self.get_endpoint(caller, endpoint_id), secret)

    async def enable_endpoint(self, caller: Caller, endpoint_id: str) -> EnabledWebhook:
        """Enable it (after a 410 disabled it): the messages it held are sent now."""
        await self.get_endpoint(caller, endpoint_id)
        async with redis_guard():
            resumed = await self.store.enable_endpoint(endpoint_id)
        if resumed is None:
            raise NotFound(f"no webhook endpoint with id {endpoint_id!r}")
        return EnabledWebhook(await self.get_endpoint(caller, endpoint_id), resumed)

    # --- deliveries ------------------------------------------------------------------

    async def job_deliveries(self, caller: Caller, job_id: str) -> list[Delivery]:
        """Every message of the job (its callback and each subscribed endpoint) with its
        attempt log; empty while the job runs. NotFound for an unknown job."""
        return await self.deliveries_of((await self.jobs.get(caller, job_id)).id)

    async def deliveries_of(self, job_id: str) -> list[Delivery]:
        """The same, for a job the caller already looked up (GraphQL's Job.deliveries)."""
        async with redis_guard():
            return await self.store.job_deliveries(job_id)

    async def get_delivery(self, caller: Caller, delivery_id: str) -> Delivery:
        """The delivery of one of the caller's jobs; NotFound otherwise."""
        async with redis_guard():
            delivery = await self.store.get_delivery(delivery_id)
        if delivery is None:
            raise NotFound(f"no delivery with id {delivery_id!r}")
        try:
            await self.jobs.get(caller, delivery.job_id)
        except NotFound:
            raise NotFound(f"no delivery with id {delivery_id!r}") from None
        return delivery

    async def redeliver(self, caller: Caller, delivery_id: str) -> Delivery:
        """Send the message again now, with the same webhook-id and body and a fresh retry
        schedule; also a delivered or dead-lettered one."""
        await self.get_delivery(caller, delivery_id)
        async with redis_guard():
            result = await self.store.redeliver(delivery_id)
        if result == "missing":
            raise NotFound(f"no delivery with id {delivery_id!r}")
        if result == "sending":
            raise Conflict("the delivery is being sent right now; try again in a moment")
        if result == "endpoint_deleted":
            raise Conflict("the delivery's webhook endpoint was deleted")
        if result == "endpoint_disabled":
            raise Conflict("the delivery's webhook endpoint is disabled; enable it first "
                           "(its held messages are then sent)")
        return await self.get_delivery(caller, delivery_id)
