"""The job service: validation, submission, lookup and cancel, written once.

REST routes and GraphQL resolvers are thin faces over this class.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
import redis.asyncio as aioredis
from celery import Celery
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError

from gateway.errors import InvalidInput, NotFound, Unavailable, UnknownFunction
from gateway.publish import celery_message, redis_queue_key
from tasks.catalog import FunctionSpec, catalog
from tasks.jobs import JobRecord, JobStatus, new_record_fields
from tasks.settings import Settings, get_settings
from tasks.ssrf import UrlPolicy, UrlRefused, check_url
from tasks.store import AsyncJobStore

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
    url: str | None, policy: UrlPolicy | None = None, field: str = "callback_url"
) -> str | None:
    """Refuse a webhook URL that is obviously bad (tasks/ssrf.py): malformed, not http(s),
    a refused port, or a refused address written literally in any form. No DNS here: the
    dispatcher checks what a host name resolves to when it sends."""
    if url is None:
        return None
    try:
        check_url(url, policy or UrlPolicy.from_settings(get_settings()))
    except UrlRefused as exc:
        raise InvalidInput(f"{field}: {exc.message}", [
            {"loc": [field], "msg": exc.message, "type": f"url_{exc.reason}"}]) from None
    return url


def parse_job_id(job_id: str) -> str | None:
    """Our ids are UUIDs; anything else cannot name a job (and never reaches Redis)."""
    try:
        return str(uuid.UUID(job_id))
    except ValueError:
        return None


@asynccontextmanager
async def redis_guard() -> AsyncIterator[None]:
    try:
        yield
    except RedisError as exc:
        raise Unavailable(f"the job store is unavailable ({type(exc).__name__})") from exc


class JobService:
    def __init__(self, settings: Settings, redis: aioredis.Redis, celery: Celery) -> None:
        self.settings = settings
        self.store = AsyncJobStore(redis)
        self.celery = celery
        self.functions = catalog()
        self._fast_publish = settings.broker_is_redis
        self._queue_key = redis_queue_key(settings.celery_queue)
        self.url_policy = UrlPolicy.from_settings(settings)

    # --- validation ---------------------------------------------------------------

    def function(self, name: str) -> FunctionSpec:
        spec = self.functions.get(name)
        if spec is None:
            known = ", ".join(sorted(self.functions))
            raise UnknownFunction(f"unknown function {name!r}; known functions: {known}")
        return spec

    def validate_input(self, spec: FunctionSpec, raw: Any) -> BaseModel:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise InvalidInput(f"input: expected a JSON object for {spec.name}")
        try:
            return spec.input_model.model_validate(raw)
        except ValidationError as exc:
            raise describe_errors(exc.errors(include_url=False)) from exc

    # --- submit ------------------------------------------------------------------

    async def submit(
        self, function: str, raw_input: Any, callback_url: str | None = None
    ) -> JobRecord:
        spec = self.function(function)
        return await self.submit_validated(spec, self.validate_input(spec, raw_input),
                                           callback_url)

    async def submit_validated(
        self, spec: FunctionSpec, params: BaseModel, callback_url: str | None = None
    ) -> JobRecord:
        callback_url = check_callback_url(callback_url, self.url_policy)
        job_id = str(uuid.uuid4())
        # A REST body is the input model plus callback_url: keep only the input's fields.
        kwargs = params.model_dump(mode="json", include=set(spec.input_model.model_fields))
        input_json = orjson.dumps(kwargs)
        now = time.time()
        fields = new_record_fields(job_id, spec.name, input_json, now, callback_url)
        ttl = self.settings.job_ttl_seconds
        async with redis_guard():
            if self._fast_publish:
                message = celery_message(spec.name, job_id, kwargs, self.settings.celery_queue)
                await self.store.create(fields, ttl, (self._queue_key, message))
            else:
                await self.store.create(fields, ttl)
                await self._publish_generic(spec.name, job_id, kwargs)
        return JobRecord(
            id=job_id, function=spec.name, status=JobStatus.QUEUED, input=kwargs,
            result=None, error=None, attempts=0, created_at=now, started_at=None,
            finished_at=None, callback_url=callback_url,
        )

    async def _publish_generic(self, task: str, job_id: str, kwargs: dict[str, Any]) -> None:
        try:
            await asyncio.to_thread(
                self.celery.send_task, task, kwargs=kwargs, task_id=job_id,
                retry=True, retry_policy={"max_retries": 2, "interval_start": 0.2,
                                          "interval_step": 0.5, "interval_max": 1},
            )
        except Exception as exc:
            log.warning("publish of job %s failed: %r", job_id, exc)
            await self.store.delete(job_id)  # never leave a record with no message
            raise Unavailable(f"the broker is unavailable ({type(exc).__name__})") from exc

    # --- lookup and cancel -------------------------------------------------------

    async def get(self, job_id: str, function: str | None = None) -> JobRecord:
        """The job's record; NotFound for an unknown id or one of another function."""
        key = parse_job_id(job_id)
        record = None
        if key is not None:
            async with redis_guard():
                record = await self.store.get(key)
        if record is None or (function is not None and record.function != function):
            raise NotFound(f"no job with id {job_id!r}"
                           + (f" for function {function}" if function else ""))
        return record

    async def cancel(self, job_id: str) -> tuple[JobRecord, bool]:
        """Cancel a queued or running job. Returns the record and whether this call
        cancelled it (False: it had already finished)."""
        record = await self.get(job_id)
        async with redis_guard():
            outcome = await self.store.transition(record.id, JobStatus.CANCELLED)
            if outcome.applied:
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
            return await self.get(record.id), outcome.applied
