"""The job store: job records in Redis hashes, status transitions, and job events.

The worker drives it synchronously (from Celery signal hooks); the gateway uses the async
twin. Both apply transitions through the same Lua script, so the rule "a terminal status
is never overwritten, a missing record is never re-created" lives in one place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis
import redis.asyncio as aioredis

from tasks.batching import Batcher
from tasks.jobs import JobRecord, JobStatus, record_from_fields
from tasks.settings import Settings

KEY_PREFIX = "gw:"
JOB_INDEX_KEY = f"{KEY_PREFIX}jobs"  # sorted set: job id by creation time, for listing

TRANSITION_LUA = resources.files("tasks").joinpath("transition.lua").read_text()
CREATE_LUA = resources.files("tasks").joinpath("create.lua").read_text()
# Most jobs one create.lua call writes: bounds how long one call holds Redis (about 1 ms).
CREATE_BATCH_MAX = 256
GET_BATCH_MAX = 256


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


_NewRecord = tuple[dict[str, str | bytes], int, tuple[str, bytes] | None]


class AsyncJobStore:
    """Asynchronous store, for the gateway's event loop."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._transition = client.register_script(TRANSITION_LUA)
        self._create = client.register_script(CREATE_LUA)
        self._creates = Batcher(self._create_many, CREATE_BATCH_MAX)
        self._gets = Batcher(self._get_many, GET_BATCH_MAX)

    async def get(self, job_id: str) -> JobRecord | None:
        """The record (concurrent gets share one pipelined round trip)."""
        fields = await self._gets(job_id)
        return record_from_fields(fields) if fields else None

    async def _get_many(self, job_ids: list[str]) -> list[dict[bytes, bytes]]:
        async with self.client.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hgetall(job_key(job_id))
            replies: list[dict[bytes, bytes]] = await pipe.execute()
        return replies

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

        Concurrent creates are written by one create.lua call (see tasks/batching.py); a
        batch is written entirely or not at all, and an error reaches every caller in it.
        """
        await self._creates((fields, ttl_seconds, message))

    async def _create_many(self, batch: list[_NewRecord]) -> list[None]:
        keys: list[str] = [JOB_INDEX_KEY]
        args: list[str | bytes | int] = []
        for fields, ttl, message in batch:
            job_id = str(fields["id"])
            keys.append(job_key(job_id))
            queue, body = message or ("", b"")
            args += [job_id, fields["created_at"], ttl, queue, body, len(fields)]
            for pair in fields.items():
                args += pair
        await self._create(keys=keys, args=args)
        return [None] * len(batch)

    async def delete(self, job_id: str) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(job_key(job_id))
            pipe.zrem(JOB_INDEX_KEY, job_id)
            await pipe.execute()
