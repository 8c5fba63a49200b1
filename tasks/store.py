"""The job store: job records in Redis hashes, status transitions, and job events.

The worker drives it synchronously (from Celery signal hooks); the gateway uses the async
twin. Both apply transitions through the same Lua script, so the rule "a terminal status
is never overwritten, a missing record is never re-created" lives in one place.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis
import redis.asyncio as aioredis

from tasks.jobs import JobRecord, JobStatus, record_from_fields
from tasks.settings import Settings

KEY_PREFIX = "gw:"
JOB_INDEX_KEY = f"{KEY_PREFIX}jobs"  # sorted set: job id by creation time, for listing

TRANSITION_LUA = resources.files("tasks").joinpath("transition.lua").read_text()
CREATE_LUA = resources.files("tasks").joinpath("create.lua").read_text()
# Most jobs one create.lua call writes: bounds how long one call holds Redis (about 1 ms).
CREATE_BATCH_MAX = 256


def job_key(job_id: str) -> str:
    return f"{KEY_PREFIX}job:{job_id}"


def event_channel(job_id: str) -> str:
    return f"{KEY_PREFIX}job-events:{job_id}"


@dataclass(frozen=True, slots=True)
class Transition:
    applied: bool
    previous: JobStatus | None  # None: the record does not exist
    attempts: int


def transition_args(
    status: JobStatus, fields: dict[str, str | bytes], count_attempt: bool
) -> list[str | bytes]:
    args: list[str | bytes] = [status.value, "1" if count_attempt else "0"]
    for name, value in fields.items():
        args += [name, value]
    return args


def parse_transition(reply: list[Any]) -> Transition:
    applied, previous, attempts = reply
    prev = previous.decode() if isinstance(previous, bytes) else previous
    return Transition(
        applied=bool(applied), previous=JobStatus(prev) if prev else None, attempts=int(attempts)
    )


def timestamp_fields(status: JobStatus, now: float | None = None) -> dict[str, str | bytes]:
    """The time field a transition into `status` stamps."""
    stamp = repr(time.time() if now is None else now)
    if status is JobStatus.STARTED:
        return {"started_at": stamp}
    if status.is_terminal:
        return {"finished_at": stamp}
    return {}


def redis_client_options(settings: Settings) -> dict[str, Any]:
    # Bounded timeouts: a dead Redis is an error within seconds, never a hang.
    return {
        "socket_timeout": settings.redis_timeout_seconds,
        "socket_connect_timeout": settings.redis_timeout_seconds,
        "health_check_interval": 30,
    }


class JobStore:
    """Synchronous store, for the worker."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._transition = client.register_script(TRANSITION_LUA)

    @classmethod
    def from_settings(cls, settings: Settings) -> JobStore:
        return cls(redis.Redis.from_url(settings.effective_redis_url,
                                        **redis_client_options(settings)))

    def get(self, job_id: str) -> JobRecord | None:
        fields = self.client.hgetall(job_key(job_id))
        return record_from_fields(fields) if fields else None

    def transition(
        self,
        job_id: str,
        status: JobStatus,
        fields: dict[str, str | bytes] | None = None,
        count_attempt: bool = False,
    ) -> Transition:
        all_fields = {**timestamp_fields(status), **(fields or {})}
        reply = self._transition(
            keys=[job_key(job_id), event_channel(job_id)],
            args=transition_args(status, all_fields, count_attempt),
        )
        return parse_transition(reply)


_PendingCreate = tuple[
    dict[str, str | bytes], int, tuple[str, bytes] | None, "asyncio.Future[None]"
]


class AsyncJobStore:
    """Asynchronous store, for the gateway's event loop."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._transition = client.register_script(TRANSITION_LUA)
        self._create = client.register_script(CREATE_LUA)
        self._pending: list[_PendingCreate] = []
        self._flush_scheduled = False
        self._writes: set[asyncio.Task[None]] = set()

    async def get(self, job_id: str) -> JobRecord | None:
        fields = await self.client.hgetall(job_key(job_id))
        return record_from_fields(fields) if fields else None

    async def transition(
        self,
        job_id: str,
        status: JobStatus,
        fields: dict[str, str | bytes] | None = None,
    ) -> Transition:
        all_fields = {**timestamp_fields(status), **(fields or {})}
        reply = await self._transition(
            keys=[job_key(job_id), event_channel(job_id)],
            args=transition_args(status, all_fields, count_attempt=False),
        )
        return parse_transition(reply)

    async def create(
        self,
        fields: dict[str, str | bytes],
        ttl_seconds: int,
        message: tuple[str, bytes] | None = None,
    ) -> None:
        """Write a new record (and, for the Redis fast path, push its Celery message to the
        queue list) atomically: never one without the other.

        Creates that arrive in the same event-loop turn (concurrent requests) are written
        by one create.lua call: a single round trip and a single command for the client
        library to pack and parse, which is most of the submit path's cost otherwise. A
        batch is written entirely or not at all, and an error reaches every caller in it.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((fields, ttl_seconds, message, done))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        await done

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), CREATE_BATCH_MAX):
            task = asyncio.ensure_future(self._write(pending[start:start + CREATE_BATCH_MAX]))
            self._writes.add(task)  # keep a reference until it is done
            task.add_done_callback(self._writes.discard)

    async def _write(self, batch: list[_PendingCreate]) -> None:
        keys: list[str] = [JOB_INDEX_KEY]
        args: list[str | bytes | int] = []
        for fields, ttl, message, _ in batch:
            job_id = str(fields["id"])
            keys.append(job_key(job_id))
            queue, body = message or ("", b"")
            args += [job_id, fields["created_at"], ttl, queue, body, len(fields)]
            for pair in fields.items():
                args += pair
        try:
            await self._create(keys=keys, args=args)
        except Exception as exc:
            for *_, done in batch:
                if not done.done():
                    done.set_exception(exc)
        except BaseException:  # cancelled (shutdown): so are the callers
            for *_, done in batch:
                done.cancel()
            raise
        else:
            for *_, done in batch:
                if not done.done():
                    done.set_result(None)

    async def delete(self, job_id: str) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(job_key(job_id))
            pipe.zrem(JOB_INDEX_KEY, job_id)
            await pipe.execute()
