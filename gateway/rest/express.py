"""The express lane: the reference's hot routes (submit and poll) served without FastAPI's
routing, middleware stack and parameter solving, which cost those routes more than half
of their CPU (profile in bench/latest/summary.md).

There is one route table, FastAPI's: a route function marked `@express` is served here
too, and what the lane needs is read from FastAPI's own analysis of it (its path, method,
body model, header and path parameters), so nothing can drift between the two paths. The
lane calls the route function with the same keyword arguments FastAPI would, and maps
its errors with the app's own exception handlers. A route the lane cannot serve exactly
(one with dependencies, required query parameters or several bodies) is refused when the
app is built; a poll's optional query parameters (`?wait=`) are FastAPI's to read: a GET
with a query string takes FastAPI's way.

A request takes the lane only when it is plainly well formed: an exact method and path, an
accepted API key (checked before the body is read), a JSON body that parses and validates,
no CORS to answer. Anything else (no key, a body that is not JSON, invalid input, a
cross-origin call, a root path) goes to the FastAPI app, with the body replayed if it was
read, so each error answer keeps one implementation. (orjson bounds nesting itself, and a
lane's body model holds plain fields only: a body nested deeper than
gateway/services/json_input.py allows never validates, and FastAPI refuses it.)
GraphQL POSTs go straight to Strawberry's ASGI app, which answers every case itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.asgi.body import read_body, replay
from gateway.asgi.headers import first_header
from gateway.rest.deps import caller_of
from gateway.rest.errors import unexpected_error
from gateway.services.metrics import EXPRESS_LANE_REQUESTS

Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Response]])
HttpHandler = Callable[[Request, Exception], Response | Awaitable[Response]]
_MARK = "__express_lane__"
_CONTENT_TYPE = b"content-type"
_ORIGIN = b"origin"
_SERVED_SUBMIT, _SERVED_POLL, _SERVED_GRAPHQL = (
    EXPRESS_LANE_REQUESTS.labels(route) for route in ("submit", "poll", "graphql"))


def express(endpoint: Endpoint) -> Endpoint:
    """Mark a route function (below its router decorator) for the express lane."""
    setattr(endpoint, _MARK, True)
    return endpoint


@dataclass(frozen=True, slots=True)
class LaneRoute:
    """What the lane needs of one FastAPI route, read from FastAPI's analysis of it."""

    endpoint: Callable[..., Awaitable[Response]]
    request_param: str
    body_param: str | None = None  # a submit: the body's parameter and model
    body_model: type[BaseModel] | None = None
    headers: tuple[tuple[bytes, str], ...] = ()  # (lower-case header name, parameter)
    path_param: str | None = None  # a poll: the job id's parameter, the path's last part

    @classmethod
    def of(cls, route: RouteContext) -> LaneRoute:
        d, endpoint, path = route.dependant, route.endpoint, route.path_format
        assert endpoint is not None and path is not None
        refused = [what for what, there in (
            ("dependencies", d.dependencies),
            ("required query parameters", [q for q in d.query_params
                                           if q.field_info.is_required()]),
            ("cookies", d.cookie_params), ("no Request parameter", not d.request_param_name),
            ("several bodies", len(d.body_params) > 1),
            ("several path parameters", len(d.path_params) > 1)) if there]
        if refused:
            raise ValueError(f"{route.name} cannot take the express lane: {', '.join(refused)}")
        assert d.request_param_name is not None
        headers = tuple((_header_name(field).encode("latin-1"), field.name)
                        for field in d.header_params)
        if d.body_params:
            body = d.body_params[0]
            model = body.field_info.annotation
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise ValueError(f"{route.name} cannot take the express lane: its body is "
                                 "not one required model")
            return cls(endpoint, d.request_param_name, body.name, model, headers)
        (path_param,) = d.path_params
        if not path.endswith("{" + path_param.name + "}"):
            raise ValueError(f"{route.name} cannot take the express lane: the id is not "
                             "the path's last part")
        return cls(endpoint, d.request_param_name, headers=headers,
                   path_param=path_param.name)

    def header_values(self, scope: Scope) -> dict[str, str]:
        values = {}
        for header, param in self.headers:
            value = first_header(scope, header)
            if value is not None:
                values[param] = value.decode("latin-1")
        return values


def _header_name(field: Any) -> str:
    """The header a parameter reads, as FastAPI finds it: its alias, or its name with
    underscores turned into hyphens."""
    name: str = field.alias
    if name == field.name and getattr(field.field_info, "convert_underscores", True):
        name = name.replace("_", "-")
    return name.lower()


class ExpressLane:
    """ASGI wrapper around the FastAPI app: serves the app's `@express` routes (POST with a
    body: submits; GET with the job id last: polls) and hands `posts` (path: ASGI app the
    FastAPI app also routes there, i.e. GraphQL) their POSTs directly: such an app answers
    every case itself, a masked 500 for a bug included."""

    def __init__(self, app: FastAPI, posts: Mapping[str, ASGIApp], cors: bool) -> None:
        self.app = app
        self.submits: dict[str, LaneRoute] = {}
        polls: dict[str, LaneRoute] = {}
        # FastAPI's effective routes: an included router's routes with its prefix.
        for route in iter_route_contexts(app.routes):
            if isinstance(route.original_route, APIRoute) and getattr(route.endpoint, _MARK,
                                                                      False):
                lane, path = LaneRoute.of(route), str(route.path_format)
                if lane.body_model is not None and route.methods == {"POST"}:
                    self.submits[path] = lane
                elif lane.path_param is not None and route.methods == {"GET"}:
                    polls[path.rpartition("{")[0]] = lane
                else:
                    raise ValueError(f"{route.name}: the express lane serves POST with a "
                                     "body or GET with an id")
        self.polls = tuple(polls.items())
        self.posts = dict(posts)
        self.cors = cors
        self.handlers = app.exception_handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path") and not (
                self.cors and first_header(scope, _ORIGIN) is not None):
            method, path = scope["method"], scope["path"]
            if method == "POST":
                lane = self.submits.get(path)
                if lane is not None:
                    await self._submit(lane, scope, receive, send)
                    return
                app = self.posts.get(path)
                if app is not None:
                    _SERVED_GRAPHQL.inc()
                    scope["app"] = self.app  # what request.app (the services) reads
                    await app(scope, receive, send)
                    return
            elif method == "GET" and not scope.get("query_string"):
                for prefix, lane in self.polls:
                    job_id = path[len(prefix):]
                    if path.startswith(prefix) and job_id and "/" not in job_id:
                        _SERVED_POLL.inc()
                        assert lane.path_param is not None
                        await self._answer(scope, receive, send, lane,
                                           {lane.path_param: job_id})
                        return
        await self.app(scope, receive, send)

    async def _submit(self, lane: LaneRoute, scope: Scope, receive: Receive,
                      send: Send) -> None:
        content_type = first_header(scope, _CONTENT_TYPE)
        if (content_type is None or not content_type.startswith(b"application/json")
                or not await self._key_accepted(scope)):
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive)
        except ClientDisconnect:
            return
        assert lane.body_model is not None and lane.body_param is not None
        try:
            params = lane.body_model.model_validate(orjson.loads(body))
        except (orjson.JSONDecodeError, ValidationError):
            # FastAPI's own answer (the documented 422 shape), from the same bytes.
            await self.app(scope, replay(body, receive), send)
            return
        _SERVED_SUBMIT.inc()
        await self._answer(scope, receive, send, lane, {lane.body_param: params})

    async def _key_accepted(self, scope: Scope) -> bool:
        """The API key, checked before the body is read (the route finds the caller in
        the scope). A refusal (401, or 503 when Redis is down) is FastAPI's route's to
        answer: it checks the key first too, and reads no body either."""
        scope["app"] = self.app  # what request.app (the authenticator) reads
        try:
            await caller_of(Request(scope))
        except Exception:
            return False
        return True

    async def _answer(self, scope: Scope, receive: Receive, send: Send, lane: LaneRoute,
                      arguments: dict[str, Any]) -> None:
        scope["app"] = self.app  # what request.app (the service, the authenticator) reads
        request = Request(scope, receive)
        try:
            response = await lane.endpoint(**{lane.request_param: request, **arguments,
                                              **lane.header_values(scope)})
        except Exception as exc:
            answer = self._handler(exc)(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> HttpHandler:
        """The app's own exception handler for `exc` (the most specific class wins, as
        in Starlette)."""
        for cls in type(exc).__mro__:
            handler = self.handlers.get(cls)
            if handler is not None:
                return cast(HttpHandler, handler)
        return unexpected_error
