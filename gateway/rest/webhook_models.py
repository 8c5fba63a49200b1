"""Request and response shapes of the REST webhook routes."""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field

from gateway.services.message_filters import MAX_TIME_LENGTH
from gateway.services.webhooks import MAX_DESCRIPTION_LENGTH, Recovery
from tasks.jobs.record import iso_time
from tasks.webhooks.flow import MAX_RATE_LIMIT, BreakerStateName
from tasks.webhooks.model import (
    EVENTS,
    NAMED_ONLY_EVENTS,
    SUBSCRIBABLE_EVENTS,
    Delivery,
    DeliveryStatus,
    WebhookEndpoint,
)

# Most deliveries per second to an endpoint; null: no limit of its own.
RateLimit = Annotated[int, Field(strict=True, ge=1, le=MAX_RATE_LIMIT)] | None
RATE_LIMIT_DOC = f"Most deliveries per second to this endpoint, 1 to {MAX_RATE_LIMIT}; null: none."


class RegisterWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(..., max_length=2048, description="Where to POST the signed events.")
    events: list[str] | None = Field(
        None, max_length=len(SUBSCRIBABLE_EVENTS) * 2,
        description=f"Events to receive, of {', '.join(SUBSCRIBABLE_EVENTS)}; leave out for "
                    f"the end of every job ({', '.join(EVENTS)}; "
                    f"{', '.join(NAMED_ONLY_EVENTS)} only when named).")
    description: str = Field("", max_length=MAX_DESCRIPTION_LENGTH)
    rate_limit: RateLimit = Field(None, description=RATE_LIMIT_DOC)


class UpdateWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate_limit: RateLimit = Field(..., description=RATE_LIMIT_DOC)


class BreakerOut(BaseModel):
    state: BreakerStateName = Field(..., description="closed: messages flow; open: they "
                                    "wait, unclaimed and uncharged, for the next probe; "
                                    "half_open: one probe is going out.")
    consecutive_failures: int
    opened_at: str | None = Field(None, description="When this failing streak opened it.")
    next_probe_at: str | None = Field(None, description="While open: when the cool-down ends.")


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    all_events: bool
    description: str
    enabled: bool
    disabled_reason: str | None = None
    created_at: str
    secret_rotated_at: str | None = None
    rate_limit: int | None = None
    breaker: BreakerOut

    @classmethod
    def of(cls, endpoint: WebhookEndpoint, **extra: Any) -> Self:
        return cls.model_validate({**endpoint.to_public(), **extra})


class WebhookWithSecret(WebhookOut):
    secret: str = Field(..., description="The signing secret (whsec_...). Shown only now.")


class EnabledWebhookOut(WebhookOut):
    resumed_deliveries: int = Field(..., description="Held messages now sent.")


class DeliveryAttemptOut(BaseModel):
    number: int
    at: str
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    response_body: str
    detail: str | None = None


class DeliveryOut(BaseModel):
    id: str = Field(..., description="The message id: the webhook-id header.")
    job_id: str
    event: str
    endpoint_id: str | None = None
    url: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: str | None = None
    created_at: str
    last_error: str | None = None
    attempts: list[DeliveryAttemptOut]
    destination: str | None = Field(None, description="tenant|target: the endpoint's id, or "
                                    "the callback URL's origin.")
    breaker: BreakerOut = Field(..., description="The destination's circuit breaker.")

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        return cls.model_validate(delivery.to_public())


class MessagePageOut(BaseModel):
    data: list[DeliveryOut] = Field(..., description="Newest first (by creation time).")
    has_next_page: bool
    next_cursor: str | None = Field(
        None, description="Pass as `after` for the next page (null: nothing listed).")


class RecoverWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: str = Field(..., max_length=MAX_TIME_LENGTH,
                       description="RFC 3339 time: recover messages created since then.")
    until: str | None = Field(None, max_length=MAX_TIME_LENGTH,
                              description="RFC 3339 time; leave out for up to now.")


class RecoveryOut(BaseModel):
    endpoint_id: str
    since: str
    until: str | None = None
    recovered: int = Field(..., description="Failed or dead-lettered messages sent again now.")
    already_pending: int = Field(..., description="Already due (e.g. by an earlier recover): "
                                 "not sent twice.")
    in_flight: int = Field(..., description="Being sent right now: left alone.")

    @classmethod
    def of(cls, recovery: Recovery) -> RecoveryOut:
        return cls(endpoint_id=recovery.endpoint.id, since=iso_time(recovery.since) or "",
                   until=iso_time(recovery.until), recovered=recovery.recovered,
                   already_pending=recovery.already_pending, in_flight=recovery.in_flight)
