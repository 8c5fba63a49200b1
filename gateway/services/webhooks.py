"""The webhook service: registered endpoints, the delivery log and replay, written once.

REST routes (gateway/rest/routes/webhooks.py) and GraphQL resolvers are thin faces over it.
Errors are the gateway's own: InvalidInput (422 / BAD_USER_INPUT), NotFound, Conflict,
Unavailable. Secrets leave this service only in the answers of `register` and
`rotate_secret`; Redis gets them sealed with WEBHOOK_ENCRYPTION_KEY (the store does it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.services.auth import Caller
from gateway.services.errors import Conflict, DuplicateEndpoint, InvalidInput, NotFound
from gateway.services.jobs import JobService, check_callback_url, redis_guard
from gateway.services.listing import PAGE_DEFAULT, check_page_size, encode_position
from gateway.services.message_filters import (
    MessageStatus,
    check_endpoint_id,
    check_status,
    decode_cursor,
    parse_time,
    time_range,
)
from tasks.webhooks.failed import FailedIndex
from tasks.webhooks.flow import MAX_RATE_LIMIT
from tasks.webhooks.model import (
    MAX_ENDPOINTS,
    SUBSCRIBABLE_EVENTS,
    Delivery,
    WebhookEndpoint,
)
from tasks.webhooks.secret_box import SecretBox
from tasks.webhooks.store import WebhookStore

MAX_DESCRIPTION_LENGTH = 500
RECOVER_BATCH = 500  # messages one recover script call looks at (each call is atomic)


@dataclass(frozen=True, slots=True)
class RegisteredWebhook:
    """An endpoint with its signing secret: only ever returned by register and rotate."""

    endpoint: WebhookEndpoint
    secret: str


@dataclass(frozen=True, slots=True)
class EnabledWebhook:
    endpoint: WebhookEndpoint
    resumed_deliveries: int  # messages held while it was disabled, now due


@dataclass(frozen=True, slots=True)
class MessagePage:
    edges: list[tuple[str, Delivery]]  # (cursor, delivery), newest first
    has_next_page: bool
    end_cursor: str | None


@dataclass(frozen=True, slots=True)
class Recovery:
    endpoint: WebhookEndpoint
    since: float
    until: float | None
    recovered: int  # failed or dead-lettered messages sent again now
    already_pending: int  # already due (e.g. by an earlier recover): not sent twice
    in_flight: int  # being sent right now: left alone


def check_events(events: Sequence[str] | None) -> tuple[str, ...] | None:
    """None: every end of a job (also ones added later; job.progress and the operational
    events only by name).
    Else known names, at least one."""
    if events is None:
        return None
    if isinstance(events, str) or not isinstance(events, Sequence):
        raise InvalidInput("events: expected a list of event names")
    unknown = sorted({e for e in events if not isinstance(e, str)
                      or e not in SUBSCRIBABLE_EVENTS}, key=str)
    if unknown:
        raise InvalidInput(f"events: unknown event(s) {', '.join(map(repr, unknown))}; "
                           f"known events: {', '.join(SUBSCRIBABLE_EVENTS)}")
    if not events:
        raise InvalidInput("events: name at least one event, or leave it out for all")
    # canonical order, no duplicates
    return tuple(e for e in SUBSCRIBABLE_EVENTS if e in events)


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
        self.store = WebhookStore(jobs.store.client, SecretBox.from_settings(self.settings))
        self.failed = FailedIndex(jobs.store.client, self.store)

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
            made = await self.store.add_endpoint(caller.tenant, checked_url, wanted, description,
                                                 rate_limit=rate)
        if made.existing_id is not None:
            # One URL, one endpoint: registering it again would multiply every message
            # to it (a flood at a third party from one job).
            raise DuplicateEndpoint(
                f"url: an endpoint for {checked_url} is registered already ({made.existing_id}); "
                "use that one, or delete it first", made.existing_id)
        if made.endpoint is None:
            raise Conflict(f"at most {MAX_ENDPOINTS} webhook endpoints can be registered; "
                           "delete one first")
        return RegisteredWebhook(made.endpoint, made.secret)

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
        """A delivery of the caller's (by its destination's tenant; one made before
        destinations, by its job's); NotFound otherwise."""
        async with redis_guard():
            delivery = await self.store.get_delivery(delivery_id)
        if delivery is None or delivery.tenant not in (None, caller.tenant):
            raise NotFound(f"no delivery with id {delivery_id!r}")
        if delivery.tenant is None:
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

    # --- failed messages and recover --------------------------------------------------

    async def list_messages(
        self, caller: Caller, status: str | MessageStatus = MessageStatus.FAILED,
        endpoint_id: str | None = None, since: str | datetime | None = None,
        until: str | datetime | None = None, first: int = PAGE_DEFAULT,
        after: str | None = None,
    ) -> MessagePage:
        """The caller's failed (or only dead-lettered) messages, newest first by creation
        time, of one endpoint or all (per-job callbacks too), created in [since, until].
        Read from an index, so every page but the last is full."""
        wanted = check_status(status)
        check_endpoint_id(endpoint_id)
        times = time_range(since, until)
        check_page_size(first)
        start = decode_cursor(after) if after is not None else None
        async with redis_guard():
            page = await self.failed.page(caller.tenant, endpoint_id,
                                          wanted is MessageStatus.DEAD, times.since,
                                          times.until, start, first)
        edges = [(encode_position(position), d) for position, d in page.deliveries]
        return MessagePage(edges, page.has_next_page, edges[-1][0] if edges else None)

    async def recover(self, caller: Caller, endpoint_id: str, since: str | datetime,
                      until: str | datetime | None = None) -> Recovery:
        """Send again now every failed or dead-lettered message of the endpoint created in
        [since, until], with the same webhook-ids, through the redelivery path: each
        message atomically; a message already due is not sent twice, one in flight is left
        alone, so calling it twice resends nothing more. A disabled endpoint is a Conflict
        (enable sends what it held)."""
        low = parse_time(since, "since")
        times = time_range(since, until)
        endpoint = await self.get_endpoint(caller, endpoint_id)
        if not endpoint.enabled:
            raise Conflict("the webhook endpoint is disabled; enable it first (its held "
                           "messages are then sent), then recover")
        recovered = pending = sending = 0
        after: tuple[str, str] | None = None
        while True:
            async with redis_guard():
                batch = await self.store.recover_batch(caller.tenant, endpoint_id, low,
                                                       times.until, after, RECOVER_BATCH)
            if batch.result == "missing":
                raise NotFound(f"no webhook endpoint with id {endpoint_id!r}")
            if batch.result == "disabled":
                raise Conflict("the webhook endpoint was disabled meanwhile; enable it "
                               "first, then recover")
            recovered += batch.resumed
            pending += batch.pending
            sending += batch.sending
            if batch.next is None:
                break
            after = batch.next
        return Recovery(endpoint, low, times.until, recovered, pending, sending)
