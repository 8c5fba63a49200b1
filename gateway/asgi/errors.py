"""How an HTTP answer reports an error, whichever layer or face sends it: JSON with `error`
(a code), `message` (for a person) and `detail` (FastAPI's convention: a list for 422,
else the message), and one HTTP status per class of the error tree
(gateway/services/errors.py). The REST face's FastAPI handlers (gateway/rest/errors.py),
GraphQL's HTTP-level refusals (gateway/graphql/router.py) and the body limit use it."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.responses import Response

from gateway.services.errors import (
    Conflict,
    GatewayError,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
    UnknownFunction,
)

log = logging.getLogger("gateway.errors")

# First match wins: a more specific class comes before its base.
STATUS_BY_ERROR: dict[type[GatewayError], int] = {
    InvalidInput: 422,
    UnknownFunction: 422,  # bad input of a submit, though GraphQL calls it NOT_FOUND
    Conflict: 409,
    Unauthorized: 401,
    RateLimited: 429,
    NotFound: 404,
    Unavailable: 503,
}


def error_body(code: str, message: str, detail: Any = None,
               fields: dict[str, str] | None = None) -> bytes:
    return orjson.dumps({"error": code, "message": message,
                         "detail": message if detail is None else detail, **(fields or {})})


def json_error(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def internal_error(exc: BaseException) -> Response:
    """A bug's answer: logged with its traceback, masked for the client."""
    log.exception("unexpected error", exc_info=exc)
    return json_error(500, error_body("INTERNAL", "internal error"))


def error_response(exc: GatewayError) -> Response:
    status = next((s for t, s in STATUS_BY_ERROR.items() if isinstance(exc, t)), 500)
    headers = None
    if isinstance(exc, Unavailable | RateLimited):
        log.warning("%s: %s", exc.code, exc.message)
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    elif isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    detail = exc.details if isinstance(exc, InvalidInput) else None
    return json_error(status, error_body(exc.code, exc.message, detail, exc.fields), headers)
