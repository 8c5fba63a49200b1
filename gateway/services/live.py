"""Live jobs over REST, written once over the job event hub's `follow_job`: long polling (a
poll that answers as soon as the job ends, or when its wait is over, with its state then)
and a job's event stream (its record, then every change). Each holds a slot of the
process's StreamGate while it waits, and ends when the gateway stops."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from gateway.services.auth import Caller
from gateway.services.errors import InvalidInput
from gateway.services.events import JobEventHub, follow_job
from gateway.services.jobs import JobService
from gateway.services.streams import Slot, StreamGate
from tasks.jobs.record import JobRecord


def check_wait(wait: float | None, limit: float) -> float | None:
    """`wait` in seconds, from 0 to LONG_POLL_MAX_SECONDS; None: no waiting at all."""
    if wait is None:
        return None
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not (
            math.isfinite(wait) and 0 <= wait <= limit):
        rule = f"a number of seconds from 0 to {limit:g}"
        raise InvalidInput(f"wait: {rule} (got {wait!r})",
                           [{"loc": ["wait"], "msg": rule, "type": "wait_range"}])
    return float(wait)


@dataclass
class JobEvents:
    """One client's stream of one job: the record read before the answer starts (so that an
    unknown job is a plain 404), and the changes to come. `aclose` gives the subscription
    and the slot back, however far the stream was read."""

    first: JobRecord
    rest: AsyncGenerator[JobRecord, None]
    slot: Slot
    gate: StreamGate

    async def aclose(self) -> None:
        try:
            # Finished already, unless the stream ended between two changes; "running"
            # only if its reader was torn down mid-read, and then it ends with it.
            with contextlib.suppress(RuntimeError):
                await self.rest.aclose()
        finally:
            self.gate.release(self.slot)


class LiveJobs:
    def __init__(self, service: JobService, hub: JobEventHub, gate: StreamGate) -> None:
        self.service = service
        self.hub = hub
        self.gate = gate
        self.keepalive_seconds = service.settings.event_stream_keepalive_seconds

    async def wait_for_end(self, caller: Caller, job_id: str, wait: float | None,
                           function: str | None = None) -> JobRecord:
        """The job's record as soon as it ends, or once `wait` seconds are over (its state
        then). Without `wait` (or 0) it is the plain lookup, answered at once."""
        seconds = check_wait(wait, self.service.settings.long_poll_max_seconds)
        record = await self.service.get(caller, job_id, function)
        if not seconds or record.status.is_terminal:
            return record
        loop = asyncio.get_running_loop()
        changes = follow_job(self.hub, self.service, caller, record.id, function)
        with self.gate.slot() as slot:
            try:
                async with asyncio.timeout(seconds) as limit:
                    slot.on_close(lambda: _expire(limit, loop))  # a stopping gateway answers
                    async for later in changes:
                        record = later
            except TimeoutError:
                if not limit.expired():
                    raise
        return record

    async def open_events(self, caller: Caller, job_id: str) -> JobEvents:
        """The job's stream, its first record read: NotFound (an unknown job, another
        tenant's) and TooManyStreams come from here, before any answer has started."""
        slot = self.gate.take()
        rest = follow_job(self.hub, self.service, caller, job_id)
        try:
            first = await anext(rest)
        except BaseException:
            self.gate.release(slot)
            await rest.aclose()
            raise
        return JobEvents(first, rest, slot, self.gate)


def _expire(limit: asyncio.Timeout, loop: asyncio.AbstractEventLoop) -> None:
    with contextlib.suppress(RuntimeError):  # expiring already
        limit.reschedule(loop.time())
