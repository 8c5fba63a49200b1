"""The REST routers' route class (FastAPI's documented way to change how a route reads
its request): for a route that takes a body, the API key is checked before the body is
read, and the body is decoded within the bounds of gateway/json_input.py. FastAPI's own
decoding (json.loads) has none, and it reads the body before it solves any dependency,
the caller's included."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from gateway.rest.deps import caller_of
from gateway.services import json_input
from gateway.services.errors import InvalidJson


class BoundedJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json_input.loads(await self.body())
        return self._json


class GatewayRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def key_then_body(request: Request) -> Response:
            await caller_of(request)  # every route with a body takes a key: 401 first
            try:
                return await handler(BoundedJsonRequest(request.scope, request.receive))
            except HTTPException as exc:
                # FastAPI answers a plain 400 to anything but malformed JSON that decoding
                # raises; ours says what is wrong (422, like any bad input).
                if isinstance(exc.__cause__, InvalidJson):
                    raise exc.__cause__ from None
                raise

        return key_then_body
