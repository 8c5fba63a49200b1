"""A request body read straight from ASGI `receive`, and handed on again: the fast lanes
(gateway/rest/express.py, gateway/graphql/router.py) read a body to decide whether they
can answer, and pass it on unread to the path that answers everything else."""

from __future__ import annotations

from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive


async def read_body(receive: Receive) -> bytes:
    """The whole body; ClientDisconnect when the client left (or the body was over the
    limit: gateway/asgi/body_limit.py raises its subclass). Starlette's `Request.body()`
    does the same through an async generator, at several times the cost."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands over the already-read body first, then defers to the server."""
    pending = True

    async def again() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
