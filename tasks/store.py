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

from tasks.jobs import JobRecord, JobStatus, record_from_fields
from tasks.settings import Settings

KEY_PREFIX = "gw:"
JOB_INDEX_KEY = f"{KEY_PREFIX}jobs"  # sorted set: job id by creation time, for listing

TRANSITION_LUA = resources.files("tasks").joinpath("transition.lua").read_text()


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
    # The prefix lets a terminal transition derive the webhook keys (tasks/webhooks.py).
    args: list[str | bytes] = [status.value, "1" if count_attempt else "0", KEY_PREFIX]
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


class AsyncJobStore:
    """Asynchronous store, for the gateway's event loop."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._transition = client.register_script(TRANSITION_LUA)

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
        queue list) in one MULTI transaction: one round trip, and never one without the
        other."""
        job_id = str(fields["id"])
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(job_key(job_id), mapping=fields)  # type: ignore[arg-type]
            pipe.expire(job_key(job_id), ttl_seconds)
            pipe.zadd(JOB_INDEX_KEY, {job_id: float(fields["created_at"])})
            if message is not None:
                pipe.lpush(*message)
            await pipe.execute()

    async def delete(self, job_id: str) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(job_key(job_id))
            pipe.zrem(JOB_INDEX_KEY, job_id)
            await pipe.execute()
