"""What resolvers get as `info.context`: the job and webhook services, the job event hub
and the caller (the API key's tenant)."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import Scope

from gateway.services.auth import Authenticator, Caller, presented_key
from gateway.services.errors import Unauthorized
from gateway.services.events import JobEventHub
from gateway.services.jobs import JobService
from gateway.services.webhooks import WebhookService


class GatewayContext:
    def __init__(self, service: JobService, events: JobEventHub, webhooks: WebhookService,
                 authenticator: Authenticator, caller: Caller | None) -> None:
        self.request: HTTPConnection | None = None
        self.response: Response | None = None  # Strawberry's sub-response (HTTP only)
        self.connection_params: Any = None  # a WebSocket's connection_init payload
        self.service = service
        self.events = events
        self.webhooks = webhooks
        self.authenticator = authenticator
        self._caller = caller  # None on a WebSocket until its connection_init is accepted

    @property
    def caller(self) -> Caller:
        if self._caller is None:
            raise Unauthorized("an API key is required")
        return self._caller

    async def authenticate_websocket(self, headers: dict[str, str]) -> None:
        """A subscription's key comes in connection_init's payload (or the upgrade
        request's headers); Unauthorized when keys are on and it is missing or wrong."""
        payload = self.connection_params if isinstance(self.connection_params, dict) else {}
        self._caller = await self.authenticator.caller(
            presented_key(payload) or presented_key(headers))


def app_state(app: Any) -> dict[str, Any]:
    """The app's services by name: app.state's own dictionary (Starlette's State keeps its
    attributes there), read as a dictionary because each attribute read of app.state is
    a Python-level __getattr__, 0.44 µs, and a GraphQL request made five."""
    state: dict[str, Any] = app.state._state
    return state


async def context_of(connection: HTTPConnection) -> GatewayContext:
    # HTTPConnection, not Request: the same getter serves WebSocket subscriptions.
    if connection.scope["type"] == "http":
        return await http_context(connection.scope)
    state = app_state(connection.app)  # a WebSocket's caller comes with connection_init
    return GatewayContext(state["service"], state["job_events"], state["webhooks"],
                          state["authenticator"], None)


async def http_context(scope: Scope) -> GatewayContext:
    """An HTTP request's context, from its scope alone (a compiled plan's answer builds no
    Request). The key is checked here: no key (when keys are on) is a 401 before any
    GraphQL runs, and the request takes one token of the caller's rate limit."""
    state = app_state(scope["app"])
    service, authenticator = state["service"], state["authenticator"]
    caller = await authenticator.caller_for(scope)  # checked already, before the body
    await service.rate_limit(caller)  # was read
    return GatewayContext(service, state["job_events"], state["webhooks"], authenticator, caller)
