"""A live list of the caller's jobs (GraphQL `jobsUpdated`): every record transition.lua
publishes on the tenant's channel, through the process's one job event hub, filtered by
status and function here. The channel is the tenant's own, so no other tenant's job is
ever in it; each record's tenant is checked again all the same."""

from __future__ import annotations

from collections.abc import AsyncIterator

from gateway.services.auth import Caller
from gateway.services.errors import Unavailable
from gateway.services.events import JobEventHub, Resync
from gateway.services.jobs import JobService
from gateway.services.listing import check_status
from tasks.jobs.record import JobRecord


async def follow_tenant(hub: JobEventHub, service: JobService, caller: Caller,
                        status: str | None = None, function: str | None = None
                        ) -> AsyncIterator[JobRecord]:
    """Each change of one of the caller's jobs (of `status`, of `function`) from now on;
    it never ends by itself. Bad filters are bad input, as for a listing. When events may
    have been missed (Redis reconnected) it ends with UNAVAILABLE: a client then subscribes
    again and reads its list again."""
    wanted = check_status(status)
    service.check_function_filter(function)
    async with hub.subscribe_tenant(caller.tenant) as events:
        while True:
            event = await events.get()
            if isinstance(event, Unavailable):
                raise Unavailable(event.message)
            if isinstance(event, Resync):
                raise Unavailable("job events were interrupted (the gateway reconnected to "
                                  "Redis) and changes may be missed: subscribe again, then "
                                  "read jobs() again")
            if event.tenant != caller.tenant:
                continue
            if (wanted is None or event.status is wanted) and (
                    function is None or event.function == function):
                yield event
