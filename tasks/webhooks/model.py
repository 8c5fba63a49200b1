"""The webhook data model: events, registered endpoints, deliveries and their attempts, how
they are stored in Redis, and the message body (the Standard Webhooks envelope).

One delivery is one message: (job, target, event), where the target is the job's own
callback URL or one registered endpoint (for job.progress: (job, endpoint, report number)).
The terminal job transition creates them, and a progress report its job.progress ones, in
the same Lua script (tasks/webhooks/job_deliveries.lua), so each exists exactly once; its
id is the message's `webhook-id`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tasks.jobs.record import JobStatus, iso_time, opt_float, record_from_fields
from tasks.redis.replies import as_text
from tasks.webhooks.flow import CLOSED, BreakerState

EVENT_BY_STATUS = {
    JobStatus.SUCCEEDED: "job.succeeded",
    JobStatus.FAILED: "job.failed",
    JobStatus.CANCELLED: "job.cancelled",
    JobStatus.EXPIRED: "job.expired",
}
EVENTS = tuple(EVENT_BY_STATUS.values())  # job events: a job's end
# A running job's progress report (tasks/jobs/progress.lua): at most one per job per
# WEBHOOK_PROGRESS_INTERVAL_SECONDS, sent only to endpoints that name it (many messages per
# job: an endpoint of "every event" registered before it existed must not get a flood).
JOB_PROGRESS = "job.progress"
# Operational events (tasks/webhooks/operational.lua): about the webhooks themselves, sent only
# to endpoints that name them (an endpoint of "every event" gets every job event).
ENDPOINT_DISABLED = "endpoint.disabled"
MESSAGE_EXHAUSTED = "message.attempt.exhausted"
OPERATIONAL_EVENTS = (ENDPOINT_DISABLED, MESSAGE_EXHAUSTED)
NAMED_ONLY_EVENTS = (JOB_PROGRESS, *OPERATIONAL_EVENTS)  # never sent for "every event"
SUBSCRIBABLE_EVENTS = EVENTS + NAMED_ONLY_EVENTS
ALL_EVENTS = "*"  # an endpoint subscribed to every end of a job, including ones added later

RESPONSE_BODY_LIMIT = 1024  # bytes of a receiver's answer kept in the log
MAX_ENDPOINTS = 100  # every terminal transition reads them all, inside Lua

# --- the model -----------------------------------------------------------------------------


class DeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"  # due now or waiting for its next attempt
    SENDING = "SENDING"  # claimed by a dispatcher, attempt in flight
    SUCCEEDED = "SUCCEEDED"  # a 2xx answer
    PAUSED = "PAUSED"  # its endpoint is disabled; sent again after enable
    DEAD_LETTERED = "DEAD_LETTERED"  # retries exhausted or not retryable; redeliver re-sends


def _fields(raw: dict[Any, Any]) -> dict[str, str]:
    return {as_text(k): as_text(v) for k, v in raw.items()}


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    id: str
    url: str
    events: tuple[str, ...] | None  # None: every event
    description: str
    enabled: bool
    disabled_reason: str | None
    created_at: float
    secret_rotated_at: float | None
    tenant: str
    rate_limit: int | None = None  # deliveries per second, at most
    breaker: BreakerState = CLOSED  # of its destination

    @property
    def destination(self) -> str:
        return destination_of_endpoint(self.tenant, self.id)

    @classmethod
    def from_fields(cls, raw: dict[Any, Any],
                    breaker: dict[Any, Any] | None = None) -> WebhookEndpoint:
        f = _fields(raw)
        events = f.get("events", ALL_EVENTS)
        return cls(
            id=f["id"], url=f["url"],
            events=None if events == ALL_EVENTS else tuple(e for e in events.split(",") if e),
            description=f.get("description", ""), enabled=f.get("enabled") == "1",
            disabled_reason=f.get("disabled_reason") or None,
            created_at=float(f["created_at"]),
            secret_rotated_at=opt_float(f, "secret_rotated_at"),
            tenant=f.get("tenant", "public"),
            rate_limit=int(f["rate_limit"]) if f.get("rate_limit") else None,
            breaker=BreakerState.from_fields(breaker),
        )

    def to_public(self) -> dict[str, Any]:
        """The endpoint as the API shows it: never its secret."""
        return {
            "id": self.id, "url": self.url,
            "events": list(self.events) if self.events is not None else list(EVENTS),
            "all_events": self.events is None, "description": self.description,
            "enabled": self.enabled, "disabled_reason": self.disabled_reason,
            "created_at": iso_time(self.created_at),
            "secret_rotated_at": iso_time(self.secret_rotated_at),
            "rate_limit": self.rate_limit, "breaker": self.breaker.to_public(),
        }


def destination_of_endpoint(tenant: str, endpoint_id: str) -> str:
    """A registered endpoint's destination, as tasks/webhooks/destinations.lua names it."""
    return f"{tenant}|{endpoint_id}"


def endpoint_events_field(events: tuple[str, ...] | None) -> str:
    """Stored as `,a,b,` so the Lua script matches `,event,` with a plain find."""
    return ALL_EVENTS if events is None else "," + ",".join(events) + ","


def endpoint_secrets(raw: dict[Any, Any], now: float,
                     reveal: Callable[[str], str]) -> tuple[str, ...]:
    """The secrets to sign with: the current one, and the previous one during its grace.
    They are stored sealed: `reveal` opens one (tasks/webhooks/secret_box.py)."""
    f = _fields(raw)
    secrets = [reveal(f["secret"])]
    if f.get("previous_secret") and float(f.get("previous_secret_until") or 0) > now:
        secrets.append(reveal(f["previous_secret"]))
    return tuple(secrets)


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    number: int
    at: float
    duration_ms: float
    status_code: int | None  # the HTTP status, when an answer came
    # None on success; else redirect, client_error, server_error (with status_code), or
    # timeout, connect_error, tls_error, protocol_error, blocked, invalid_url (no answer;
    # see detail)
    error: str | None
    response_body: str  # the first RESPONSE_BODY_LIMIT bytes, decoded leniently
    detail: str | None = None

    def to_json(self) -> bytes:
        return orjson.dumps({"number": self.number, "at": self.at,
                             "duration_ms": round(self.duration_ms, 3),
                             "status_code": self.status_code, "error": self.error,
                             "response_body": self.response_body, "detail": self.detail})

    @classmethod
    def from_json(cls, raw: str | bytes) -> DeliveryAttempt:
        d = orjson.loads(raw)
        return cls(number=int(d["number"]), at=float(d["at"]),
                   duration_ms=float(d["duration_ms"]), status_code=d["status_code"],
                   error=d["error"], response_body=d["response_body"], detail=d.get("detail"))

    def to_public(self) -> dict[str, Any]:
        return {"number": self.number, "at": iso_time(self.at), "duration_ms": self.duration_ms,
                "status_code": self.status_code, "error": self.error,
                "response_body": self.response_body, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str  # the message's webhook-id
    job_id: str
    event: str
    endpoint_id: str | None  # None: the job's own callback_url
    url: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: float | None
    created_at: float
    last_error: str | None
    attempts: tuple[DeliveryAttempt, ...] = ()
    tenant: str | None = None  # from its destination (None: made before destinations)
    # "tenant|target" (tasks/webhooks/destinations.lua); None before its first claim, for a
    # delivery an older version made. Its breaker: for a callback URL, the only view of it.
    destination: str | None = None
    breaker: BreakerState = field(default=CLOSED)

    @classmethod
    def from_fields(cls, raw: dict[Any, Any], attempts: tuple[DeliveryAttempt, ...] = (),
                    breaker: dict[Any, Any] | None = None) -> Delivery:
        f = _fields(raw)
        status = DeliveryStatus(f["status"])
        return cls(
            id=f["id"], job_id=f["job_id"], event=f["event"],
            endpoint_id=f.get("endpoint_id") or None, url=f["url"], status=status,
            attempt_count=int(f.get("attempts", "0")),
            next_attempt_at=opt_float(f, "next_attempt_at")
            if status is DeliveryStatus.PENDING else None,
            created_at=float(f["created_at"]), last_error=f.get("last_error") or None,
            attempts=attempts,
            tenant=f["destination"].partition("|")[0] if "destination" in f else None,
            destination=f.get("destination") or None,
            breaker=BreakerState.from_fields(breaker),
        )

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id, "job_id": self.job_id, "event": self.event,
            "endpoint_id": self.endpoint_id, "url": self.url, "status": self.status.value,
            "attempt_count": self.attempt_count,
            "next_attempt_at": iso_time(self.next_attempt_at),
            "created_at": iso_time(self.created_at), "last_error": self.last_error,
            "attempts": [a.to_public() for a in self.attempts],
            "destination": self.destination, "breaker": self.breaker.to_public(),
        }


# --- the message body ---------------------------------------------------------------------


def delivery_body(fields: dict[str, str]) -> bytes:
    """The body of a claimed delivery: a job event from its job snapshot, an operational
    event from its `data` (both fixed when the message was made, so every attempt and
    replay sends the same bytes)."""
    if "data" in fields:
        return orjson.dumps({"type": fields["event"],
                             "timestamp": iso_time(float(fields["created_at"])),
                             "data": orjson.loads(fields["data"])})
    return render_body(fields["event"], fields["job"])


def render_body(event: str, job_snapshot: str | bytes) -> bytes:
    """The Standard Webhooks envelope of one event, from the job record as the transition
    saw it (its HGETALL as a flat JSON array). Deterministic, so every attempt of a message
    sends the same bytes; integers stay exact (the result is kept as JSON text)."""
    flat = orjson.loads(job_snapshot)
    record = record_from_fields(dict(zip(flat[::2], flat[1::2], strict=True)))
    data = record.to_public()
    del data["callback_url"]  # where it is sent is not part of what happened
    at = record.progress.updated_at if event == JOB_PROGRESS and record.progress else (
        record.finished_at or record.created_at)
    return orjson.dumps({"type": event, "timestamp": iso_time(at), "data": data})
