"""Refuse request bodies over MAX_BODY_BYTES with 413, before any route reads them."""

from __future__ import annotations

import contextlib

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.asgi.errors import error_body


class BodyTooLarge(ClientDisconnect):
    """Raised to the app reading a body over the limit, once the 413 is sent. To the app,
    the request ends as when its client leaves (nothing more to read, nobody to answer),
    and every face already ends that quietly, without an error in the log."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    await self._reject(send)
                    return
            elif name == b"transfer-encoding":
                chunked = True
        if not chunked:
            # HTTP/1.1: the body is the declared length, or empty when none is declared, and
            # the server's parser delivers no more: nothing to count (the common case,
            # spared the per-message wrappers below).
            await self.app(scope, receive, send)
            return

        received = 0
        started = rejected = False

        async def counting_receive() -> Message:
            nonlocal received, rejected
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Answer now: the app may catch the exception below and try to answer
                    # 400 itself; tracking_send drops that.
                    if not started and not rejected:
                        rejected = True
                        await self._reject(send)
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counting_receive, tracking_send)

    async def _reject(self, send: Send) -> None:
        body = error_body("PAYLOAD_TOO_LARGE",
                          f"the request body is larger than {self.max_bytes} bytes")
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
