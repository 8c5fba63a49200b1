"""GraphQL types of the webhook service: registered endpoints and delivery logs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from gateway.graphql.timestamps import Timestamp, timestamp
from gateway.services.errors import NotFound
from tasks.webhooks import flow, model

if TYPE_CHECKING:
    from gateway.graphql.context import GatewayContext

DeliveryStatus = strawberry.enum(
    model.DeliveryStatus, name="DeliveryStatus",
    description="PENDING: due or waiting for a retry; SENDING: an attempt is in flight; "
                "PAUSED: its endpoint is disabled; DEAD_LETTERED: retries ran out "
                "(redeliverWebhook sends it again).")


BreakerState = strawberry.enum(
    flow.BreakerStateName, name="BreakerState",
    description="CLOSED: messages flow; OPEN: they wait, unclaimed and uncharged, for the "
                "next probe; HALF_OPEN: one probe is going out.")


@strawberry.type(description="A destination's circuit breaker: it opens after consecutive "
                 "failures (timeouts, connection errors, 5xx) and probes after a cool-down.")
class DestinationBreaker:
    state: BreakerState  # type: ignore[valid-type]
    consecutive_failures: int
    opened_at: Timestamp | None = strawberry.field(
        description="When this failing streak opened it (null while closed).")
    next_probe_at: Timestamp | None = strawberry.field(
        description="While OPEN: when the cool-down ends and a probe may go.")

    @classmethod
    def of(cls, breaker: flow.BreakerState) -> DestinationBreaker:
        return cls(state=breaker.state, consecutive_failures=breaker.consecutive_failures,
                   opened_at=timestamp(breaker.opened_at),
                   next_probe_at=timestamp(breaker.next_probe_at))


@strawberry.type(description="An endpoint that receives the events it subscribed to, for "
                 "every job of its tenant.")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    events: list[str]
    all_events: bool = strawberry.field(description="Subscribed to every end of a job, "
                                        "also ones added later (job.progress and operational "
                                        "events such as endpoint.disabled only when named in "
                                        "`events`).")
    description: str
    enabled: bool
    disabled_reason: str | None = strawberry.field(description="Why it was disabled (a 410).")
    created_at: Timestamp
    secret_rotated_at: Timestamp | None
    rate_limit: int | None = strawberry.field(
        description="Most deliveries per second to it; null: no limit of its own.")
    breaker: DestinationBreaker
    secret: str | None = strawberry.field(
        description="The signing secret (whsec_...): only in the answer of registerWebhook "
                    "and rotateWebhookSecret, null everywhere else.")

    @classmethod
    def of(cls, endpoint: model.WebhookEndpoint, secret: str | None = None) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(endpoint.id), url=endpoint.url,
            events=list(endpoint.events) if endpoint.events is not None else list(model.EVENTS),
            all_events=endpoint.events is None, description=endpoint.description,
            enabled=endpoint.enabled, disabled_reason=endpoint.disabled_reason,
            created_at=Timestamp(endpoint.created_at),
            secret_rotated_at=timestamp(endpoint.secret_rotated_at),
            rate_limit=endpoint.rate_limit, breaker=DestinationBreaker.of(endpoint.breaker),
            secret=secret,
        )


@strawberry.type(description="One attempt to deliver a message.")
class DeliveryAttempt:
    number: int
    at: Timestamp
    duration_ms: float
    status_code: int | None = strawberry.field(description="The HTTP status, if one came.")
    error: str | None = strawberry.field(
        description="null on success; else redirect, client_error, server_error, timeout, "
                    "connect_error, tls_error, protocol_error or blocked (SSRF guard).")
    response_body: str = strawberry.field(description="The first 1 KiB of the answer.")
    detail: str | None

    @classmethod
    def of(cls, attempt: model.DeliveryAttempt) -> DeliveryAttempt:
        return cls(number=attempt.number, at=Timestamp(attempt.at),
                   duration_ms=attempt.duration_ms,
                   status_code=attempt.status_code, error=attempt.error,
                   response_body=attempt.response_body, detail=attempt.detail)


@strawberry.type(description="One message about a job to one target (its callbackUrl or a "
                 "registered endpoint): its id is the webhook-id header, the same on every "
                 "attempt and replay.")
class Delivery:
    id: strawberry.ID
    job_id: strawberry.ID
    event: str
    endpoint_id: strawberry.ID | None = strawberry.field(
        description="null: the job's own callbackUrl.")
    url: str
    status: DeliveryStatus  # type: ignore[valid-type]
    attempt_count: int
    attempts: list[DeliveryAttempt]
    next_attempt_at: Timestamp | None = strawberry.field(description="Only while PENDING.")
    created_at: Timestamp
    last_error: str | None
    destination: str | None = strawberry.field(
        description="tenant|target: the endpoint's id, or the callback URL's origin.")
    breaker: DestinationBreaker = strawberry.field(
        description="The destination's circuit breaker (for a callbackUrl, its only view).")

    @strawberry.field(description="The registered endpoint (null for a callbackUrl, or once "
                      "the endpoint was deleted).")
    async def endpoint(self, info: strawberry.Info[GatewayContext, None]
                       ) -> WebhookEndpoint | None:
        if self.endpoint_id is None:
            return None
        try:
            found = await info.context.webhooks.get_endpoint(info.context.caller,
                                                             self.endpoint_id)
        except NotFound:
            return None
        return WebhookEndpoint.of(found)

    @classmethod
    def of(cls, delivery: model.Delivery) -> Delivery:
        return cls(
            id=strawberry.ID(delivery.id), job_id=strawberry.ID(delivery.job_id),
            event=delivery.event,
            endpoint_id=None if delivery.endpoint_id is None else strawberry.ID(
                delivery.endpoint_id),
            url=delivery.url, status=delivery.status, attempt_count=delivery.attempt_count,
            attempts=[DeliveryAttempt.of(a) for a in delivery.attempts],
            next_attempt_at=timestamp(delivery.next_attempt_at),
            created_at=Timestamp(delivery.created_at),
            last_error=delivery.last_error, destination=delivery.destination,
            breaker=DestinationBreaker.of(delivery.breaker),
        )
