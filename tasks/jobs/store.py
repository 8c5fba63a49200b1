"""The job store: job records in Redis hashes, status transitions, and job events.

The worker drives it synchronously (from Celery signal hooks); the gateway uses the async
twin. Both apply transitions through the same Lua script, so the rule "a terminal status
is never overwritten, a missing record is never re-created" lives in one place.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis

from tasks.batching import Batcher
from tasks.jobs.record import JobRecord, JobStatus, record_from_fields
from tasks.redis.clients import Outage, sync_client
from tasks.redis.direct_script import DirectScript
from tasks.redis.keys import (
    KOMBU_UNACKED_KEY,
    QUEUED_KEY,
    event_channel,
    idempotency_key,
    job_index_key,
    job_key,
    rate_bucket_key,
    tenant_index_key,
)
from tasks.redis.lua import load_script
from tasks.redis.replicas import run_and_wait
from tasks.redis.replies import as_text
from tasks.settings import Settings

# The scripts that publish a job event and make its webhooks share those parts.
_EVENT_LIBRARIES = ("tasks.webhooks:destinations.lua", "tasks.webhooks:job_deliveries.lua",
                    "job_events.lua")
TRANSITION_LUA = load_script("tasks.jobs", *_EVENT_LIBRARIES, "job_index.lua", "transition.lua")
PROGRESS_LUA = load_script("tasks.jobs", *_EVENT_LIBRARIES, "progress.lua")
# Scripts that rate-limit get the token bucket function first: one source for it.
SUBMIT_LUA = load_script("tasks.jobs", "bucket.lua", "job_index.lua", "submit.lua")
RATE_LIMIT_LUA = load_script("tasks.jobs", "bucket.lua", "rate_limit.lua")
GET_RECORDS_LUA = load_script("tasks.jobs", "get_records.lua")
RECOVER_LUA = load_script("tasks.jobs", "recover.lua")
# Lost workers' running jobs back to their queue (tasks/jobs/lost_workers.py).
WORKER_LOST_LUA = load_script("tasks.jobs", "job_index.lua", "worker_lost.lua")


@dataclass(frozen=True, slots=True)
class Admission:
    """The checks a submit must pass, applied in the same Lua call that creates the job."""

    tenant: str = "public"
    rate_per_second: float = 0.0  # 0: no rate limit
    burst: int = 1
    max_queue_depth: int = 0  # 0: no limit (or enforced by the caller, for other brokers)
    idempotency_key: str | None = None
    fingerprint: str = ""  # of the request, to tell a replay from a conflicting reuse
    idempotency_ttl: int = 86400


class SubmitOutcome(enum.StrEnum):
    CREATED = "created"
    REPLAY = "replay"  # same idempotency key and request: value is the existing job id
    CONFLICT = "conflict"  # same idempotency key, another request: value is that job id
    RATE_LIMITED = "rate_limited"  # value: whole seconds until a token is free
    QUEUE_FULL = "queue_full"  # value: the queue depth
    # Created (or replayed) on the primary, but fewer replicas than required confirmed it
    # in time: value is the job id (the job may run, or be lost in a failover).
    NOT_REPLICATED = "not_replicated"


CONFIRMED_BY_REPLICAS = (SubmitOutcome.CREATED, SubmitOutcome.REPLAY)
# Most jobs one submit.lua call writes (bounds how long one call holds Redis, about 1 ms),
# and most records (or rate-limit tokens) one read fetches: concurrent calls share a
# round trip.
CREATE_BATCH_MAX = 256
GET_BATCH_MAX = 256
TOKEN_BATCH_MAX = 256


@dataclass(frozen=True, slots=True)
class Transition:
    applied: bool
    previous: JobStatus | None  # None: the record does not exist
    attempts: int


# A counter update made with a transition, only if it applies: (hincrby or hincrbyfloat,
# key, field, amount), as tasks/metrics.py builds them.
CounterUpdate = tuple[str, str, str, float]


def transition_args(
    status: JobStatus, fields: dict[str, str | bytes], count_attempt: bool,
    counters: Sequence[CounterUpdate] = (), fence: str = "",
) -> list[str | bytes]:
    """`fence`: the worker run a running job's own report comes from (transition.lua)."""
    args: list[str | bytes] = [status.value, "1" if count_attempt else "0", fence,
                               str(2 * len(fields))]
    for name, value in fields.items():
        args += [name, value]
    for command, key, field, amount in counters:
        args += [command, key, field, repr(amount)]
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


class JobStore:
    """Synchronous store, for the worker."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        # Two transitions per job, and the progress reports: the direct way (direct_script.py).
        self._transition = DirectScript(client, TRANSITION_LUA)
        self._recover = client.register_script(RECOVER_LUA)
        self._progress = DirectScript(client, PROGRESS_LUA)

    def requeue_lost(self, older_than: float, unacked_key: str = KOMBU_UNACKED_KEY,
                     most: int = 100) -> int:
        """Push back the kept messages of jobs QUEUED for longer than `older_than` seconds
        whose message is nowhere (see recover.lua); returns how many."""
        now = time.time()
        return int(self._recover(keys=[QUEUED_KEY, unacked_key],
                                 args=[repr(now - older_than), most, repr(now)]))

    @classmethod
    def from_settings(cls, settings: Settings) -> JobStore:
        # The worker rides out a Redis outage of up to about 40 s: a transition that is
        # not written is a job whose status is wrong forever, so retry rather than drop it.
        return cls(sync_client(settings, Outage.RIDE_OUT))

    def get(self, job_id: str) -> JobRecord | None:
        fields = self.client.hgetall(job_key(job_id))
        return record_from_fields(fields) if fields else None

    def transition(
        self,
        job_id: str,
        status: JobStatus,
        fields: dict[str, str | bytes] | None = None,
        count_attempt: bool = False,
        counters: Sequence[CounterUpdate] = (),
        fence: str = "",
    ) -> Transition:
        """Apply the transition; `counters` are made in the same call if it applies.
        `fence`: the worker run reporting on its own running job; refused when the job is
        no longer that run's (handed back from a lost worker, or taken by another run)."""
        all_fields = {**timestamp_fields(status), **(fields or {})}
        reply = self._transition(
            keys=[job_key(job_id), event_channel(job_id)],
            args=transition_args(status, all_fields, count_attempt, counters, fence),
        )
        return parse_transition(reply)

    def write_progress(self, job_id: str, report: bytes, final: bool,
                       webhook_interval_ms: int) -> bool:
        """Store a progress report (record.progress_json) on a STARTED job and publish the
        record; False when refused (not STARTED, or no record). progress.lua also makes
        the job.progress webhooks, at most one per `webhook_interval_ms` (and the final)."""
        reply = self._progress(keys=[job_key(job_id), event_channel(job_id)],
                               args=[report, "1" if final else "0", str(webhook_interval_ms)])
        return bool(reply)


_Submit = tuple[dict[str, str | bytes], int, Admission, tuple[str, bytes] | None]


def _outcomes(reply: list[Any]) -> list[tuple[SubmitOutcome, str]]:
    return [(SubmitOutcome(as_text(outcome)), as_text(value))
            for outcome, value in zip(reply[::2], reply[1::2], strict=True)]


class AsyncJobStore:
    """Asynchronous store, for the gateway's event loop. With `replica_acks`, a create is
    answered only once that many replicas have it (Redis WAIT, up to `ack_timeout_ms`)."""

    def __init__(self, client: aioredis.Redis, replica_acks: int = 0,
                 ack_timeout_ms: int = 1000) -> None:
        self.client = client
        self._replica_acks, self._ack_timeout_ms = replica_acks, ack_timeout_ms
        self._transition = client.register_script(TRANSITION_LUA)
        self._submit = client.register_script(SUBMIT_LUA)
        self._rate_limit = client.register_script(RATE_LIMIT_LUA)
        self._get_records = client.register_script(GET_RECORDS_LUA)
        self._creates = Batcher(self._create_many, CREATE_BATCH_MAX)
        self._gets = Batcher(self._get_many, GET_BATCH_MAX)
        self._tokens = Batcher(self._take_tokens, TOKEN_BATCH_MAX)

    async def get(self, job_id: str) -> JobRecord | None:
        """The record (concurrent gets share one pipelined round trip)."""
        fields = await self._gets(job_id)
        return record_from_fields(fields) if fields else None

    async def _get_many(self, job_ids: list[str]) -> list[dict[bytes, bytes]]:
        """One script call for the batch: a pipeline of HGETALLs cost redis-py a command
        to pack and a reply to parse and convert (in Python) per poll."""
        replies = await self._get_records(keys=[job_key(job_id) for job_id in job_ids])
        return [dict(zip(flat[::2], flat[1::2], strict=True)) for flat in replies]

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
        admission: Admission,
        message: tuple[str, bytes] | None = None,
    ) -> tuple[SubmitOutcome, str]:
        """Admit and write a new record (and, for the Redis fast path, push its Celery
        message to the queue list) in one Lua call: never a record without its message or
        the reverse. Concurrent creates share one call (a batch is one script run: written
        entirely or not at all, and an error reaches every caller in it)."""
        return await self._creates((fields, ttl_seconds, admission, message))

    async def _create_many(self, batch: list[_Submit]) -> list[tuple[SubmitOutcome, str]]:
        keys: list[str] = []
        args: list[Any] = [len(batch)]
        for fields, ttl_seconds, admission, message in batch:
            job_id = str(fields["id"])
            queue, payload = message if message is not None else ("-", b"")
            keys += [job_key(job_id), tenant_index_key(admission.tenant), queue,
                     idempotency_key(admission.tenant, admission.idempotency_key or "-"),
                     rate_bucket_key(admission.tenant), QUEUED_KEY]
            job_args: list[Any] = [
                ttl_seconds, fields["created_at"], payload, admission.max_queue_depth,
                admission.rate_per_second, admission.burst,
                admission.fingerprint if admission.idempotency_key else "",
                admission.idempotency_ttl, job_id,
            ]
            for name, value in fields.items():
                job_args += [name, value]
            args += [len(job_args), *job_args]
        if not self._replica_acks:
            reply = await self._submit(keys=keys, args=args)
            return _outcomes(reply)
        reply, acked = await run_and_wait(self.client, self._submit, keys, args,
                                          self._replica_acks, self._ack_timeout_ms)
        outcomes = _outcomes(reply)
        if acked >= self._replica_acks:
            return outcomes
        return [(SubmitOutcome.NOT_REPLICATED, value) if outcome in CONFIRMED_BY_REPLICAS
                else (outcome, value) for outcome, value in outcomes]

    async def take_token(self, tenant: str, rate_per_second: float, burst: int) -> int:
        """0 when the tenant may make a call now, else whole seconds to wait (concurrent
        calls share one script call, as gets do)."""
        return await self._tokens((tenant, rate_per_second, burst))

    async def _take_tokens(self, batch: list[tuple[str, float, int]]) -> list[int]:
        args: list[Any] = [time.time()]
        for _, rate_per_second, burst in batch:
            args += [rate_per_second, burst]
        waits = await self._rate_limit(keys=[rate_bucket_key(t) for t, _, _ in batch],
                                       args=args)
        return [int(wait) for wait in waits]

    async def delete(self, job_id: str, tenant: str, function: str,
                     idempotency: str | None = None) -> None:
        """Undo a submit whose message could not be published: the record, its idempotency
        key and its index entries (it is QUEUED; the other statuses' go too, to be sure)."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(job_key(job_id))
            if idempotency is not None:
                pipe.delete(idempotency_key(tenant, idempotency))
            pipe.zrem(job_index_key(tenant), job_id)
            pipe.zrem(job_index_key(tenant, function=function), job_id)
            for status in JobStatus:
                pipe.zrem(job_index_key(tenant, status), job_id)
                pipe.zrem(job_index_key(tenant, status, function), job_id)
            await pipe.execute()

    # --- the job indexes, for listing (tasks/redis/keys.py job_index_key) --------------

    async def trim_index(self, index: str, oldest: float) -> None:
        """Drop entries of jobs created before `oldest` (their records have expired)."""
        await self.client.zremrangebyscore(index, "-inf", f"({oldest!r}")

    async def get_many(self, job_ids: list[str]) -> list[JobRecord | None]:
        """Records in the order of `job_ids`, None where one has expired (one round trip)."""
        if not job_ids:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hgetall(job_key(job_id))
            replies = await pipe.execute()
        return [record_from_fields(fields) if fields else None for fields in replies]

    async def forget(self, index: str, job_ids: list[str]) -> None:
        """Remove ids whose records have expired from an index."""
        if job_ids:
            await self.client.zrem(index, *job_ids)
