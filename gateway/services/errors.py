"""The gateway's one exception hierarchy; REST and GraphQL each map it to their own shape."""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """Base of every error a client may be told about."""

    code = "INTERNAL"
    # More for the client, by name: REST adds them to the error's JSON, GraphQL to the
    # error's extensions (in camelCase).
    fields: dict[str, str] = {}

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(GatewayError):
    code = "BAD_USER_INPUT"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


class InvalidJson(InvalidInput):
    """JSON the gateway does not decode (gateway/services/json_input.py): not UTF-8, nested too
    deep, or an integer too long. REST answers 422, GraphQL over HTTP 400, and a
    WebSocket closes with 4400."""

    def __init__(self, message: str) -> None:
        super().__init__(message, [{"loc": ["body"], "msg": message, "type": "json_invalid"}])


class NotFound(GatewayError):
    code = "NOT_FOUND"


class UnknownFunction(NotFound):
    """A submit named a function the catalog does not have."""


class Conflict(GatewayError):
    code = "CONFLICT"


class DuplicateEndpoint(Conflict):
    """A tenant registered a webhook URL it has an endpoint for already."""

    def __init__(self, message: str, existing_id: str) -> None:
        super().__init__(message)
        self.fields = {"existing_id": existing_id}


class Unauthorized(GatewayError):
    code = "UNAUTHENTICATED"


class RateLimited(GatewayError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(GatewayError):
    """Redis or the broker cannot be reached; the client should retry later."""

    code = "UNAVAILABLE"
    retry_after_seconds = 5


class QueueFull(Unavailable):
    """Backpressure: more jobs wait than MAX_QUEUE_DEPTH."""

    retry_after_seconds = 2


class NotReplicated(Unavailable):
    """REDIS_MIN_REPLICA_ACKS: the primary has the job, too few replicas confirmed it in time.
    The job may run, or be lost if the primary fails now: `job_id` names it."""

    retry_after_seconds = 2

    def __init__(self, message: str, job_id: str) -> None:
        super().__init__(message)
        self.fields = {"job_id": job_id}


class TooManyStreams(Unavailable):
    """Backpressure: the gateway process holds EVENT_STREAMS_MAX event streams and waiting
    long polls already."""

    retry_after_seconds = 1
