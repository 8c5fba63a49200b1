"""What resolvers get as `info.context`: the job service and the job event hub."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext

from gateway.job_events import JobEventHub
from gateway.service import JobService


class GatewayContext(BaseContext):
    def __init__(self, service: JobService, events: JobEventHub) -> None:
        super().__init__()
        self.service = service
        self.events = events


async def get_context(connection: HTTPConnection) -> GatewayContext:
    # HTTPConnection, not Request: the same getter serves WebSocket subscriptions.
    state = connection.app.state
    return GatewayContext(state.service, state.job_events)
