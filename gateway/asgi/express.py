"""The express lane: the reference's hot routes (submit and poll) served without FastAPI's
routing, middleware stack and parameter solving, which cost those routes more than half
of their CPU (profile in bench/latest/summary.md).

A request takes the lane only when it is plainly well formed: an exact method and path, an
accepted API key (checked before the body is read), a JSON body that parses and validates,
no CORS to answer. It then runs the very same route function the FastAPI app would, and
its errors go through the same handlers. Anything else (no key, a body that is not JSON,
invalid input, a cross-origin call, a root path) goes to the FastAPI app, with the body
replayed if it was read, so each error answer keeps one implementation. (orjson bounds
nesting itself, and a lane's body model holds plain fields only: a body nested deeper
than gateway/services/json_input.py allows never validates, and FastAPI refuses it.)
GraphQL POSTs go straight to Strawberry's ASGI app, which answers every case itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.asgi.headers import first_header
from gateway.rest.deps import caller_of
from gateway.rest.errors import gateway_error, unexpected_error
from gateway.services.errors import GatewayError
from gateway.services.metrics import EXPRESS_LANE_REQUESTS

# (request, body, idempotency key) and (request, job id): the FastAPI route functions.
SubmitRoute = Callable[..., Awaitable[Response]]
PollRoute = Callable[[Request, str], Awaitable[Response]]

_CONTENT_TYPE = b"content-type"
_IDEMPOTENCY_KEY = b"idempotency-key"
_ORIGIN = b"origin"
_SERVED_SUBMIT, _SERVED_POLL, _SERVED_GRAPHQL = (
    EXPRESS_LANE_REQUESTS.labels(route) for route in ("submit", "poll", "graphql"))


@dataclass(frozen=True, slots=True)
class SubmitLane:
    body_model: type[BaseModel]
    route: SubmitRoute


class ExpressLane:
    """ASGI wrapper around the FastAPI app. `submits` maps a POST path to its body model
    and route; `polls` maps a GET path prefix to a route taking the rest as the job id;
    `posts` maps a POST path to a plain ASGI app the FastAPI app also routes there (GraphQL,
    which answers every error itself)."""

    def __init__(self, app: FastAPI, submits: dict[str, SubmitLane],
                 polls: dict[str, PollRoute], posts: dict[str, ASGIApp], cors: bool) -> None:
        self.app = app
        self.submits = submits
        self.polls = tuple(polls.items())
        self.posts = posts
        self.cors = cors

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
                    await self._mounted(app, scope, receive, send)
                    return
            elif method == "GET":
                for prefix, route in self.polls:
                    job_id = path[len(prefix):]
                    if path.startswith(prefix) and job_id and "/" not in job_id:
                        _SERVED_POLL.inc()
                        await self._answer(scope, receive, send, route, job_id)
                        return
        await self.app(scope, receive, send)

    async def _submit(self, lane: SubmitLane, scope: Scope, receive: Receive,
                      send: Send) -> None:
        content_type = first_header(scope, _CONTENT_TYPE)
        if (content_type is None or not content_type.startswith(b"application/json")
                or not await self._key_accepted(scope)):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except ClientDisconnect:
            return
        try:
            params = lane.body_model.model_validate(orjson.loads(body))
        except (orjson.JSONDecodeError, ValidationError):
            # FastAPI's own answer (the documented 422 shape), from the same bytes.
            await self.app(scope, _replay(body, receive), send)
            return
        key = first_header(scope, _IDEMPOTENCY_KEY)
        _SERVED_SUBMIT.inc()
        await self._answer(scope, receive, send, lane.route, params,
                           None if key is None else key.decode("latin-1"))

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

    async def _answer(self, scope: Scope, receive: Receive, send: Send,
                      route: Callable[..., Awaitable[Response]], *args: object) -> None:
        scope["app"] = self.app  # what request.app (the service, the authenticator) reads
        request = Request(scope, receive)
        try:
            response = await route(request, *args)
        except GatewayError as exc:
            response = await gateway_error(request, exc)
        except Exception as exc:
            response = await unexpected_error(request, exc)
        await response(scope, receive, send)

    async def _mounted(self, app: ASGIApp, scope: Scope, receive: Receive,
                       send: Send) -> None:
        scope["app"] = self.app
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            # What FastAPI's error middleware would answer: a logged, masked 500.
            response = await unexpected_error(Request(scope), exc)
            await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands over the already-read body first, then defers to the server."""
    pending = True

    async def again() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
