"""Bound each WebSocket message by MAX_BODY_BYTES, as body_limit.py bounds HTTP bodies:
a GraphQL operation sent over the subscription socket gets the same size limit as a POST.
A larger message closes the connection with 1009 (message too big)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MESSAGE_TOO_BIG = 1009


class WebSocketMessageLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        closed = False

        async def limited_receive() -> Message:
            nonlocal closed
            message = await receive()
            if message["type"] == "websocket.receive":
                text, data = message.get("text"), message.get("bytes")
                if text is not None:  # more characters than bytes allowed: too big anyway
                    size = len(text) if len(text) > self.max_bytes else len(text.encode())
                else:
                    size = len(data or b"")
                if size > self.max_bytes:
                    closed = True
                    await send({"type": "websocket.close", "code": MESSAGE_TOO_BIG,
                                "reason": f"message larger than {self.max_bytes} bytes"})
                    return {"type": "websocket.disconnect", "code": MESSAGE_TOO_BIG}
            return message

        async def guarded_send(message: Message) -> None:
            if not closed:  # the app may still try to answer a closed socket
                await send(message)

        await self.app(scope, limited_receive, guarded_send)
