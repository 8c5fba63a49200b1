"""The job service: validation, submission, lookup and cancel, written once.

REST routes and GraphQL resolvers are thin faces over this class.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
import redis.asyncio as aioredis
from celery import Celery
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError

from gateway.services.auth import Caller
from gateway.services.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    NotReplicated,
    QueueFull,
    RateLimited,
    Unavailable,
    UnknownFunction,
)
from gateway.services.listing import (
    PAGE_DEFAULT,
    JobPage,
    Listing,
    check_page_size,
    check_status,
    decode_cursor,
    read_page,
)
from gateway.services.metrics import count_submitted
from gateway.services.publish import REQUEST_ID_HEADER, celery_message, redis_queue_key
from tasks import metrics
from tasks.ids import random_uuid
from tasks.jobs.catalog import Catalog, FunctionSpec
from tasks.jobs.record import JobRecord, JobStatus, new_record_fields, queued_record
from tasks.jobs.store import Admission, AsyncJobStore, SubmitOutcome
from tasks.logs import request_id_var
from tasks.redis.keys import job_index_key
from tasks.settings import Settings
from tasks.tracing import setup as tracing
from tasks.tracing.context import TRACEPARENT, job_traceparent
from tasks.webhooks.ssrf import UrlPolicy, UrlRefused, check_url

log = logging.getLogger("gateway.service")


def describe_errors(errors: Sequence[Mapping[str, Any]]) -> InvalidInput:
    """Pydantic's errors as a message a person can read ("number: Input should be ...")
    plus machine-readable details."""
    details = [{"loc": list(e["loc"]), "msg": str(e["msg"]), "type": str(e["type"])}
               for e in errors]
    message = "; ".join(
        f"{'.'.join(str(p) for p in d['loc']) or 'input'}: {d['msg']}" for d in details
    )
    return InvalidInput(message or "invalid input", details)


def check_callback_url(
    url: str | None, policy: UrlPolicy, field: str = "callback_url"
) -> str | None:
    """Refuse a webhook URL that is obviously bad (tasks/webhooks/ssrf.py): malformed (also a
    host no HTTP client sends to), not http(s), a refused port, or a refused address written
    literally in any form; return its canonical form, which is what is stored and sent
    (`http://2130706433:8080` is `http://127.0.0.1:8080/`). No DNS here: the dispatcher
    checks what a host name resolves to when it sends."""
    if url is None:
        return None
    try:
        return check_url(url, policy).canonical
    except UrlRefused as exc:
        raise InvalidInput(f"{field}: {exc.message}", [
            {"loc": [field], "msg": exc.message, "type": f"url_{exc.reason}"}]) from None


MAX_IDEMPOTENCY_KEY_LENGTH = 255


def check_idempotency_key(key: str | None) -> None:
    if key is not None and not (
        0 < len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH and key.isascii() and key.isprintable()
    ):
        raise InvalidInput(f"Idempotency-Key: 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable "
                           "ASCII characters")


def fingerprint(function: str, input_json: bytes, callback_url: str | None) -> str:
    """What makes two submits 'the same request' for an Idempotency-Key."""
    digest = hashlib.sha256(function.encode() + b"\0" + input_json + b"\0"
                            + (callback_url or "").encode())
    return digest.hexdigest()[:32]


def parse_job_id(job_id: str) -> str | None:
    """Our ids are UUIDs; anything else cannot name a job (and never reaches Redis)."""
    try:
        return str(uuid.UUID(job_id))
    except ValueError:
        return None


class Enqueued(NamedTuple):
    """A submit done. `id` is the new job's, or with `replayed` an earlier job's (the same
    Idempotency-Key and request); the rest is what a new job's record is built from."""

    id: str
    replayed: bool
    input: dict[str, Any]
    created_at: float
    callback_url: str | None  # canonical (check_callback_url)


def unavailable(exc: RedisError) -> Unavailable:
    return Unavailable(f"the job store is unavailable ({type(exc).__name__})")


@asynccontextmanager
async def redis_guard() -> AsyncIterator[None]:
    try:
        yield
    except RedisError as exc:
        raise unavailable(exc) from exc


class JobService:
    def __init__(self, settings: Settings, redis: aioredis.Redis, celery: Celery,
                 functions: Catalog) -> None:
        self.settings = settings
        self.store = AsyncJobStore(redis, settings.redis_min_replica_acks,
                                   settings.replica_ack_timeout_ms)
        self.celery = celery
        self.functions = functions
        self._fast_publish = settings.broker_is_redis
        # Other brokers: each queue's depth as last read, and when (monotonic).
        self._broker_depths: dict[str, tuple[int, float]] = {}
        self.url_policy = UrlPolicy.from_settings(settings)
        self._traced = tracing.enabled()  # off: no trace work on the submit path at all
        self._plain_admissions: dict[str, Admission] = {}  # by tenant

    # --- validation ---------------------------------------------------------------

    def function(self, name: str) -> FunctionSpec:
        spec = self.functions.get(name)
        if spec is None:
            known = ", ".join(sorted(self.functions))
            raise UnknownFunction(f"unknown function {name!r}; known functions: {known}")
        return spec

    def validate_input(self, spec: FunctionSpec, raw: Any,
                       from_attributes: bool = False) -> BaseModel:
        """`from_attributes`: `raw` is a model carrying the input's fields (a REST body)."""
        if raw is None:
            raw = {}
        if not (from_attributes or isinstance(raw, Mapping)):
            raise InvalidInput(f"input: expected a JSON object for {spec.name}")
        try:
            return spec.input_model.model_validate(raw, from_attributes=from_attributes)
        except ValidationError as exc:
            raise describe_errors(exc.errors(include_url=False)) from exc

    def check_function_filter(self, function: str | None) -> None:
        """A filter by function (a listing's, a live list's) names one of the catalog: an
        unknown one is bad input, not an empty answer."""
        if function is not None and function not in self.functions:
            known = ", ".join(sorted(self.functions))
            raise InvalidInput(f"function: unknown function {function[:40]!r}; known "
                               f"functions: {known}")

    # --- submit ------------------------------------------------------------------

    async def submit(
        self,
        caller: Caller,
        function: str,
        raw_input: Any,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> JobRecord:
        """`raw_input` validated for `function` and enqueued, answered with the record."""
        spec = self.function(function)
        job = await self.enqueue(caller, spec, self.validate_input(spec, raw_input),
                                 callback_url, idempotency_key)
        if job.replayed:
            return await self.get(caller, job.id)
        return queued_record(job.id, spec.name, job.input, job.created_at, job.callback_url,
                             caller.tenant)

    async def enqueue(
        self,
        caller: Caller,
        spec: FunctionSpec,
        params: BaseModel,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> Enqueued:
        """Admit, store and queue a job: the submit itself. The REST reference routes answer
        with its id alone: no record to build, nor a replayed one to read back."""
        callback_url = check_callback_url(callback_url, self.url_policy)
        check_idempotency_key(idempotency_key)
        if not isinstance(params, spec.input_model):
            # A REST body (the function's input plus callback_url) is checked for its shape
            # only: the bounds the settings give are the catalog's model's. Its fields are
            # read as attributes (half the cost of a dump and a validation of the dict).
            params = self.validate_input(spec, params, from_attributes=True)
        job_id = random_uuid()
        kwargs = params.model_dump(mode="json")
        input_json = orjson.dumps(kwargs)
        now = time.time()
        traceparent = job_traceparent(job_id, spec.name) if self._traced else None
        fields = new_record_fields(job_id, spec.name, input_json, now, callback_url,
                                   caller.tenant, traceparent)
        max_age = spec.policy.max_age_seconds
        expires = None if max_age is None else datetime.fromtimestamp(now + max_age, UTC)
        admission = (self._plain_admission(caller.tenant) if idempotency_key is None else
                     self._admission(caller.tenant, idempotency_key,
                                     fingerprint(spec.name, input_json, callback_url)))
        message = None
        try:  # redis_guard's mapping, without its context manager (1.1 µs per submit)
            if self._fast_publish:
                message = (redis_queue_key(spec.policy.queue), celery_message(
                    spec.name, job_id, kwargs, spec.policy.queue,
                    None if expires is None else expires.isoformat(), request_id_var.get(),
                    traceparent))
            else:
                await self._check_broker_depth(spec.policy.queue)
            outcome, value = await self.store.create(fields, self.settings.job_ttl_seconds,
                                                     admission, message)
            if outcome is SubmitOutcome.REPLAY:
                return Enqueued(value, True, kwargs, now, callback_url)
            if outcome is SubmitOutcome.NOT_REPLICATED:
                withdrawn = message is None and value == job_id  # created, not yet published
                if withdrawn:  # never a record without its message
                    await self.store.delete(job_id, admission.tenant, spec.name,
                                            admission.idempotency_key)
                raise self._not_replicated(value, withdrawn)
            self._refuse(outcome, value, spec.policy.queue)
            if message is None:
                await self._publish_generic(spec.name, spec.policy.queue, job_id, kwargs,
                                            expires, admission, traceparent)
        except RedisError as exc:
            raise unavailable(exc) from exc
        count_submitted(spec.name)  # process-local: no Redis round trip
        return Enqueued(job_id, False, kwargs, now, callback_url)

    def _plain_admission(self, tenant: str) -> Admission:
        """A submit's admission without an idempotency key never changes for a tenant:
        built once (1.5 µs each, a frozen dataclass, and no SHA-256 fingerprint needed)."""
        admission = self._plain_admissions.get(tenant)
        if admission is None:
            if len(self._plain_admissions) >= 10_000:  # tenants are few; bounded anyway
                self._plain_admissions.clear()
            admission = self._plain_admissions[tenant] = self._admission(tenant, None, "")
        return admission

    def _admission(self, tenant: str, idempotency_key: str | None,
                   request_fingerprint: str) -> Admission:
        s = self.settings
        return Admission(
            tenant=tenant,
            rate_per_second=s.rate_limit_per_second,
            burst=s.rate_limit_burst,
            max_queue_depth=s.max_queue_depth if self._fast_publish else 0,
            idempotency_key=idempotency_key,
            fingerprint=request_fingerprint,
            idempotency_ttl=s.idempotency_ttl_seconds,
        )

    def _not_replicated(self, job_id: str, withdrawn: bool) -> NotReplicated:
        wanted = self.settings.redis_min_replica_acks
        fate = ("it was withdrawn and will not run" if withdrawn else
                "it may run, or be lost if the primary fails now")
        return NotReplicated(
            f"job {job_id} was written to the primary, but fewer than {wanted} replica(s) "
            f"confirmed it within {self.settings.replica_ack_timeout_ms} ms: {fate}. Retry "
            "with the same Idempotency-Key (safe: it answers with this job once replicas "
            "have it); without one, look the job up by its id before submitting again",
            job_id)

    def _refuse(self, outcome: SubmitOutcome, value: str, queue: str = "") -> None:
        if outcome is SubmitOutcome.CONFLICT:
            raise Conflict(f"this Idempotency-Key was already used for another request "
                           f"(job {value}); use a new key for a new request")
        if outcome is SubmitOutcome.RATE_LIMITED:
            raise RateLimited(f"rate limit of {self.settings.rate_limit_per_second:g} "
                              "requests per second exceeded", int(value))
        if outcome is SubmitOutcome.QUEUE_FULL:
            raise QueueFull(f"the queue is full ({value} jobs waiting in {queue}, "
                            f"MAX_QUEUE_DEPTH is {self.settings.max_queue_depth}); retry later")

    async def rate_limit(self, caller: Caller) -> None:
        """Take one token of the caller's bucket for a call that is not a submit (a submit
        takes its token inside the submit script)."""
        if self.settings.rate_limit_per_second <= 0:
            return
        async with redis_guard():
            wait = await self.store.take_token(caller.tenant,
                                               self.settings.rate_limit_per_second,
                                               self.settings.rate_limit_burst)
        if wait:
            self._refuse(SubmitOutcome.RATE_LIMITED, str(wait))

    async def _check_broker_depth(self, queue: str) -> None:
        """Other brokers keep the queues outside Redis: ask the broker, at most once a
        second per queue, how many messages wait in `queue`."""
        limit = self.settings.max_queue_depth
        if limit <= 0:
            return
        now = time.monotonic()
        depth, checked_at = self._broker_depths.get(queue, (0, -1.0))
        if now - checked_at > 1.0:
            try:
                depth = await asyncio.to_thread(self._read_broker_depth, queue)
            except Exception as exc:
                raise Unavailable(f"the broker is unavailable ({type(exc).__name__})") from exc
            self._broker_depths[queue] = (depth, now)
        if depth >= limit:
            self._refuse(SubmitOutcome.QUEUE_FULL, str(depth), queue)

    def _read_broker_depth(self, queue: str) -> int:
        with self.celery.connection_for_write() as conn:
            try:
                declared = conn.default_channel.queue_declare(queue, passive=True)
            except conn.channel_errors:
                return 0  # not declared yet: no worker has started, nothing waits
            return int(declared.message_count)

    async def _publish_generic(
        self,
        task: str,
        queue: str,
        job_id: str,
        kwargs: dict[str, Any],
        expires: datetime | None,
        admission: Admission,
        traceparent: str | None = None,
    ) -> None:
        request_id = request_id_var.get()
        headers = {name: value for name, value in ((REQUEST_ID_HEADER, request_id),
                                                   (TRACEPARENT, traceparent)) if value}
        try:
            await asyncio.to_thread(
                self.celery.send_task, task, kwargs=kwargs, task_id=job_id, expires=expires,
                queue=queue,
                headers=headers or None,
                retry=True, retry_policy={"max_retries": 2, "interval_start": 0.2,
                                          "interval_step": 0.5, "interval_max": 1},
            )
        except Exception as exc:
            log.warning("publish of job %s failed: %r", job_id, exc)
            # Never leave a record (or an idempotency key) with no message.
            await self.store.delete(job_id, admission.tenant, task,
                                    admission.idempotency_key)
            raise Unavailable(f"the broker is unavailable ({type(exc).__name__})") from exc

    # --- lookup and cancel -------------------------------------------------------

    async def get(self, caller: Caller, job_id: str, function: str | None = None) -> JobRecord:
        """The job's record; NotFound for an unknown id, another tenant's job, or one of
        another function."""
        key = parse_job_id(job_id)
        record = None
        if key is not None:
            async with redis_guard():
                record = await self.store.get(key)
        if (record is None or record.tenant != caller.tenant
                or (function is not None and record.function != function)):
            raise NotFound(f"no job with id {job_id!r}"
                           + (f" for function {function}" if function else ""))
        return record

    async def cancel(self, caller: Caller, job_id: str) -> JobRecord:
        """Cancel a queued or running job; cancelling a cancelled job again is a no-op.
        Conflict when the job had already ended otherwise."""
        record = await self.get(caller, job_id)
        async with redis_guard():
            outcome = await self.store.transition(record.id, JobStatus.CANCELLED)
            if outcome.applied:
                await metrics.record_async(self.store.client, metrics.JOBS_FINISHED.inc(
                    record.function, JobStatus.CANCELLED.value))
                # A queued job is skipped by the worker's prerun hook whatever happens;
                # revoke also stops a running one.
                running = outcome.previous in (JobStatus.STARTED, JobStatus.RETRYING)
                try:
                    await asyncio.to_thread(self.celery.control.revoke, record.id,
                                            terminate=running, signal="SIGTERM")
                except Exception:
                    # The record says CANCELLED, so a queued job is still never run and a
                    # running one's result is refused; only the early stop is lost.
                    log.warning("revoke of job %s failed", record.id, exc_info=True)
            record = await self.get(caller, record.id)
        if record.status is not JobStatus.CANCELLED:
            raise Conflict(f"job {record.id} already ended {record.status.value}")
        return record

    # --- listing -----------------------------------------------------------------

    async def list_jobs(
        self,
        caller: Caller,
        status: str | None = None,
        function: str | None = None,
        first: int = PAGE_DEFAULT,
        after: str | None = None,
    ) -> JobPage:
        """The caller's jobs newest first, optionally of one status and/or function, read
        from the index of those filters (gateway/services/listing.py): every page but the
        last is full. `after` is the `end_cursor` of the previous page (of any listing)."""
        job_status = check_status(status)
        check_page_size(first)
        self.check_function_filter(function)
        start = decode_cursor(after) if after is not None else None
        query = Listing(
            tenant=caller.tenant,
            index=job_index_key(caller.tenant, job_status, function),
            status=job_status, function=function, first=first, start=start,
            oldest=time.time() - self.settings.job_ttl_seconds)
        async with redis_guard():
            return await read_page(self.store, query)
