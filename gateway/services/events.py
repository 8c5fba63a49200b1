"""Live job events: one Redis pub/sub connection per gateway process, fanned out to every
subscriber in it, and `follow_job`, the record-then-transitions stream a client watches.

Each applied status transition and each written progress report is published by the Lua
script as the whole record on `gw:job-events:{id}` and on the tenant's
`gw:tenant-events:{tenant}`, for a live job list (gateway/services/job_feed.py), by
tasks/jobs/job_events.lua (used by transition.lua and progress.lua). `JobEventHub.subscribe`
returns once Redis has
confirmed the SUBSCRIBE, and `follow_job` reads the record only then, so no transition can
fall between the read and the first event. When the connection drops, the hub reconnects,
subscribes again and has every follower read its job again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub

from gateway.services.auth import Caller
from gateway.services.errors import NotFound, Unavailable
from gateway.services.jobs import JobService, parse_job_id
from tasks.jobs.record import JobRecord, JobStatus, record_from_event
from tasks.redis.keys import JOB_EVENTS_ANCHOR, event_channel, tenant_event_channel

log = logging.getLogger("gateway.job_events")



class Resync:
    """Events may have been missed (Redis was reconnected): read the record again."""


RESYNC = Resync()
JobEvent = JobRecord | Resync | Unavailable
# A tenant's events come as fast as all its jobs change: a subscriber that falls this far
# behind is ended (UNAVAILABLE) rather than queued for without bound.
TENANT_BACKLOG = 1000


class JobEventHub:
    """Many subscribers, one pub/sub connection: a channel is subscribed once, for its first
    subscriber, and unsubscribed after its last one leaves."""

    def __init__(self, client: aioredis.Redis, confirm_timeout: float) -> None:
        self._client = client
        self._confirm_timeout = confirm_timeout
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._queues: dict[str, set[asyncio.Queue[JobEvent]]] = {}
        self._pending: dict[str, asyncio.Future[None]] = {}  # channel -> SUBSCRIBE confirmed
        self._lock = asyncio.Lock()  # orders SUBSCRIBE/UNSUBSCRIBE on the connection
        self._background: set[asyncio.Task[None]] = set()

    @property
    def channel_count(self) -> int:
        return len(self._queues)

    @property
    def subscriber_count(self) -> int:
        return sum(len(queues) for queues in self._queues.values())

    def subscribe(self, job_id: str
                  ) -> contextlib.AbstractAsyncContextManager[asyncio.Queue[JobEvent]]:
        """A queue of the job's events, live from when this returns until the block exits."""
        return self._listen(event_channel(job_id))

    def subscribe_tenant(self, tenant: str, backlog: int = TENANT_BACKLOG
                         ) -> contextlib.AbstractAsyncContextManager[asyncio.Queue[JobEvent]]:
        """A queue of the events of every job of the tenant (its own channel: no other
        tenant's record is ever in it); past `backlog` unread events, what it reads next
        is an Unavailable."""
        return self._listen(tenant_event_channel(tenant), backlog)

    @contextlib.asynccontextmanager
    async def _listen(self, channel: str, backlog: int = 0
                      ) -> AsyncIterator[asyncio.Queue[JobEvent]]:
        queue: asyncio.Queue[JobEvent] = asyncio.Queue(backlog)
        await self._join(channel, queue)
        try:
            yield queue
        finally:
            self._leave(channel, queue)

    async def _join(self, channel: str, queue: asyncio.Queue[JobEvent]) -> None:
        async with self._lock:
            queues = self._queues.get(channel)
            if queues is not None:
                queues.add(queue)  # the channel's SUBSCRIBE was confirmed under this lock
                return
            confirmed = _confirmation()
            self._pending[channel] = confirmed
            self._queues[channel] = {queue}
            try:
                pubsub = await self._connection()
                await pubsub.subscribe(channel)
                self._start_reader(pubsub)
                async with asyncio.timeout(self._confirm_timeout):
                    await confirmed
            except BaseException as exc:
                self._pending.pop(channel, None)
                self._leave(channel, queue)  # e.g. cancelled: undo a SUBSCRIBE sent anyway
                if isinstance(exc, (Unavailable, asyncio.CancelledError)):
                    raise  # Unavailable: the reader found the connection dead
                log.warning("job events: subscribe to %s failed: %r", channel, exc)
                # No answer in time or no connection: Redis is out, for every subscriber.
                await self._close(self._detach(Unavailable("job events are unavailable")))
                raise Unavailable(
                    f"job events are unavailable ({type(exc).__name__})") from exc

    def _leave(self, channel: str, queue: asyncio.Queue[JobEvent]) -> None:
        # Synchronous, so it also runs when the subscriber's task is being cancelled.
        queues = self._queues.get(channel)
        if queues is None:
            return
        queues.discard(queue)
        if not queues:
            del self._queues[channel]
            task = asyncio.get_running_loop().create_task(self._unsubscribe(channel))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _unsubscribe(self, channel: str) -> None:
        async with self._lock:
            if channel in self._queues or self._pubsub is None:
                return  # subscribed again meanwhile, or the connection is gone
            try:
                await self._pubsub.unsubscribe(channel)
            except Exception as exc:  # the reader notices a dead connection too
                log.info("job events: unsubscribe from %s failed: %r", channel, exc)

    async def _connection(self) -> PubSub:
        if self._pubsub is None:
            pubsub = self._client.pubsub()
            # Stay subscribed to an idle channel: on a connection with no subscription,
            # redis-py's health check sends a PING before a command and reads the reply
            # itself, racing the reader task for the socket ("readuntil() called while
            # another coroutine is already waiting").
            try:
                await pubsub.subscribe(JOB_EVENTS_ANCHOR)
            except BaseException:
                await self._close(pubsub)  # give its connection back to the pool
                raise
            self._pubsub = pubsub
        return self._pubsub

    def _start_reader(self, pubsub: PubSub) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(self._read(pubsub))

    async def _read(self, pubsub: PubSub) -> None:
        try:
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is not None:
                    self._dispatch(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("job events: pub/sub connection lost (%r); reconnecting", exc)
            # A subscriber waiting for its SUBSCRIBE to be confirmed will not be: tell it now.
            self._fail_pending(Unavailable("job events are unavailable"))
            await self._reconnect(pubsub, exc)

    async def _reconnect(self, broken: PubSub, cause: Exception) -> None:
        """A new connection with every channel subscribed again; then each subscriber reads
        its job again, since events published while nobody listened are lost. If Redis
        does not answer, every subscriber ends with UNAVAILABLE."""
        async with self._lock:
            if self._pubsub is not broken:
                return  # replaced or shut down meanwhile
            self._pubsub = self._reader = None
            await self._close(broken)
            channels = list(self._queues)
            if not channels:
                return  # the next subscriber connects afresh
            confirmations = [_confirmation() for _ in channels]
            self._pending.update(zip(channels, confirmations, strict=True))
            try:
                pubsub = await self._connection()
                await pubsub.subscribe(*channels)
                self._start_reader(pubsub)
                async with asyncio.timeout(self._confirm_timeout):
                    await asyncio.gather(*confirmations)
            except Exception as exc:
                log.warning("job events: reconnecting failed: %r", exc)
                await self._close(self._detach(
                    Unavailable(f"job events are unavailable ({type(cause).__name__})")))
                return
            log.info("job events: reconnected, %d channels", len(channels))
            for channel in channels:
                self._fan_out(channel, RESYNC)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        raw_channel = message["channel"]
        channel = raw_channel.decode() if isinstance(raw_channel, bytes) else str(raw_channel)
        if kind == "subscribe":
            confirmed = self._pending.pop(channel, None)
            if confirmed is not None:
                if not confirmed.done():
                    confirmed.set_result(None)
            elif channel in self._queues:
                # Re-subscribed by redis-py itself after a reconnect: events may be lost.
                self._fan_out(channel, RESYNC)
        elif kind == "message":
            try:
                record = record_from_event(message["data"])
            except Exception:
                log.exception("job events: undecodable event on %s", channel)
                return
            self._fan_out(channel, record)

    def _fan_out(self, channel: str, event: JobEvent) -> None:
        for queue in self._queues.get(channel, ()):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # a bounded subscriber fell behind: it ends
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(Unavailable(
                    "job events came faster than they were read; subscribe again"))

    def _detach(self, error: Unavailable) -> PubSub | None:
        """Forget the connection and end every subscriber with `error`; synchronous, so
        nobody can subscribe halfway. Returns the old connection, for `_close`."""
        pubsub, self._pubsub = self._pubsub, None
        reader, self._reader = self._reader, None
        self._fail_pending(error)
        for channel in list(self._queues):
            self._fan_out(channel, error)
        self._queues.clear()
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
        return pubsub

    def _fail_pending(self, error: Unavailable) -> None:
        for confirmed in self._pending.values():
            if not confirmed.done():
                confirmed.set_exception(error)
        self._pending.clear()

    @staticmethod
    async def _close(pubsub: PubSub | None) -> None:
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def aclose(self) -> None:
        await self._close(self._detach(Unavailable("the gateway is shutting down")))
        for task in list(self._background):
            task.cancel()


def _confirmation() -> asyncio.Future[None]:
    """A future the reader resolves when Redis confirms a SUBSCRIBE. Its exception is
    marked as seen, since after an outage nobody may be left to await it."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
    return future


def progress(record: JobRecord) -> tuple[int, int, int]:
    """Orders the states of one job: every transition and every progress report moves this
    key forward (a new run counts an attempt; within a run QUEUED < STARTED < RETRYING < an
    end; while STARTED, each progress report has the next number: tasks/jobs/progress.lua)."""
    if record.status.is_terminal:
        phase = 3
    else:
        phase = {JobStatus.QUEUED: 0, JobStatus.STARTED: 1, JobStatus.RETRYING: 2}[
            record.status]
    return record.attempts, phase, record.progress.seq if record.progress else 0


async def follow_job(hub: JobEventHub, service: JobService, caller: Caller, job_id: str,
                     function: str | None = None) -> AsyncGenerator[JobRecord, None]:
    """The job's current record, then each newer one as the worker moves it or the job
    reports progress, ending after a terminal status. An unknown id (or another tenant's,
    or one of another function than `function`) is NotFound, raised before anything is
    yielded."""
    key = parse_job_id(job_id)
    if key is None:
        raise NotFound(f"no job with id {job_id!r}")
    async with hub.subscribe(key) as events:
        # Read after the subscription is live: no transition falls between.
        last = await service.get(caller, key, function)
        yield last
        while not last.status.is_terminal:
            event = await events.get()
            if isinstance(event, Unavailable):
                raise Unavailable(event.message)
            if isinstance(event, Resync):
                try:
                    record = await service.get(caller, key)
                except NotFound:
                    raise NotFound(f"job {key} expired while followed") from None
            else:
                record = event
            # Events published before the first read arrive after it: skip what is not newer.
            if progress(record) > progress(last):
                last = record
                yield record
