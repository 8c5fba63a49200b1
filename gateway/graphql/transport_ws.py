"""The subscription socket (graphql-transport-ws) refuses a bad message the way its protocol
says: "a message of a type or format which is not specified in this document" closes the
socket with 4400 and a reason. Strawberry's handler indexes a message as it comes, and a
JSON list, a payload that is not an object, or an `id` that is not a string raised inside
it: the socket dropped without a close frame and uvicorn logged a traceback. Messages are
decoded within the bounds of gateway/services/json_input.py, and checked here before Strawberry's
handler sees them."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message

from gateway.graphql.context import GatewayContext
from gateway.services.errors import InvalidJson

BAD_MESSAGE = 4400  # the protocol's close code for a malformed message
MAX_REASON_BYTES = 123  # a close frame's payload: 125 bytes, 2 of them the code (RFC 6455)
_OPTIONAL_OBJECT = (dict, type(None))
_OPTIONAL_STRING = (str, type(None))


class BoundedWebSocketAdapter(ASGIWebSocketAdapter):
    """Messages as JSON within bounds (the view's decode_json): one out of them closes
    the socket with 4400 and what was wrong, as malformed JSON already did. Close reasons
    are cut to what a close frame carries: Strawberry quotes a client's `type` or `id` in
    some, and a longer reason raised instead of closing."""

    async def close(self, code: int, reason: str) -> None:
        await super().close(code, _fit(reason))

    async def iter_json(self, *, ignore_parsing_errors: bool = False
                        ) -> AsyncGenerator[object, None]:
        try:
            async for message in super().iter_json(
                    ignore_parsing_errors=ignore_parsing_errors):
                yield message
        except InvalidJson as exc:
            await self.close(BAD_MESSAGE, exc.message)


def _fit(reason: str) -> str:
    encoded = reason.encode()
    if len(encoded) <= MAX_REASON_BYTES:
        return reason
    return encoded[:MAX_REASON_BYTES - 3].decode(errors="ignore") + "..."


class CheckedTransportWS(BaseGraphQLTransportWSHandler[GatewayContext, None]):
    async def handle_message(self, message: Message) -> None:
        problem = message_problem(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        view: Any = self.view  # router.py's GatewayGraphQL (which imports this module)
        if message["type"] == "subscribe" and not view.persisted.allows(  # allow-list
                message["payload"]["query"]):
            await self.send_message({"type": "error", "id": message["id"], "payload": [{
                "message": "this operation is not in the gateway's allow-list",
                "extensions": {"code": "BAD_REQUEST"}}]})
            return
        await super().handle_message(message)


def message_problem(message: object) -> str | None:
    """What makes a client's message unlike the protocol's, in a close reason's few
    words; None for a well-formed one. Unknown types are left to Strawberry, which
    closes with 4400 too."""
    if not isinstance(message, dict):
        return "a message must be a JSON object"
    kind = message.get("type")
    if not isinstance(kind, str):
        return "a message needs a string 'type'"
    payload = message.get("payload")
    if not isinstance(payload, _OPTIONAL_OBJECT):
        return "a message's 'payload' must be an object"
    if kind in ("subscribe", "complete") and not (
            isinstance(message.get("id"), str) and message["id"]):
        return f"a {kind} message needs a string 'id'"
    if kind != "subscribe":
        return None
    if payload is None or not isinstance(payload.get("query"), str):
        return "a subscribe payload needs a string 'query'"
    if not isinstance(payload.get("operationName"), _OPTIONAL_STRING):
        return "'operationName' must be a string"
    for field in ("variables", "extensions"):
        if not isinstance(payload.get(field), _OPTIONAL_OBJECT):
            return f"'{field}' must be an object"
    return None
