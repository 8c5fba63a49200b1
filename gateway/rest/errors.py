"""The REST face's error handlers, installed on the FastAPI app: the error tree, FastAPI's
validation errors and HTTP exceptions, all answered in the JSON shape of
gateway/asgi/errors.py; anything unexpected is a logged, masked 500."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match

from gateway.asgi.errors import error_body, error_response, internal_error, json_error
from gateway.services.errors import GatewayError, InvalidInput
from gateway.services.jobs import describe_errors


async def gateway_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return error_response(exc)


def _readable(error: dict[str, Any]) -> dict[str, Any]:
    """Name a body field as clients wrote it ("number", not "body.number")."""
    loc = tuple(error["loc"])
    if error.get("type") == "json_invalid":
        return {**error, "loc": ("body",), "msg": f"the request body is not valid JSON "
                f"(error near character {loc[-1]})"}
    if loc[:1] == ("body",) and len(loc) > 1:
        return {**error, "loc": loc[1:]}
    return error


async def request_validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [_readable(e) for e in exc.errors()]
    invalid = describe_errors(errors)
    return json_error(422, error_body(invalid.code, invalid.message, invalid.details))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's answer to a body it could not read (JSON out of bounds is InvalidJson,
        # gateway/rest/route_class.py): bad input like any.
        return json_error(422, error_body(InvalidInput.code, "the request body could not be read"))
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    return json_error(exc.status_code, error_body(code, str(exc.detail)), headers or None)


def allowed_methods(request: Request) -> list[str]:
    """Every method any route serves at this path (Starlette names only the first
    route's, and GET and DELETE of /jobs/{id} are two routes)."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, BaseRoute) and route.matches(request.scope)[0] is Match.PARTIAL:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


async def client_gone(_: Request, exc: Exception) -> Response:
    # The client hung up before its body arrived: nobody reads this answer, and it is no
    # server error worth a traceback.
    return Response(status_code=400)


async def unexpected_error(_: Request, exc: Exception) -> Response:
    return internal_error(exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, gateway_error)
    app.add_exception_handler(RequestValidationError, request_validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(ClientDisconnect, client_gone)
    app.add_exception_handler(Exception, unexpected_error)
