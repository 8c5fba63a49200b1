"""The job record: its statuses, its fields, and how it is stored in a Redis hash."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from tasks.redis.replies import as_text


class JobStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    STARTED = "STARTED"
    RETRYING = "RETRYING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED}
)


@dataclass(frozen=True, slots=True)
class JobError:
    """What a client may see of a failure: the exception's type and message, no traceback."""

    type: str
    message: str


@dataclass(frozen=True, slots=True)
class JobProgress:
    """How far a running job says it is (tasks/jobs/progress.py), as of its last written
    report. Kept after the job ends; a new run (a retry) starts without one."""

    done: int | float
    total: int | float
    message: str | None
    updated_at: float
    seq: int  # the report's number within the job: orders events, names its webhooks

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0  # nothing to do is all done

    def to_public(self) -> dict[str, Any]:
        return {"done": self.done, "total": self.total, "fraction": self.fraction,
                "message": self.message, "updated_at": iso_time(self.updated_at)}


# Not frozen: every poll, submit answer and job event builds one, and a frozen dataclass's
# __init__ (object.__setattr__ per field) took 2.9 µs where this one takes 1.0 µs. Nothing
# changes a record after it is built.
@dataclass(slots=True)
class JobRecord:
    id: str
    function: str
    status: JobStatus
    input: dict[str, Any]
    result: Any
    error: JobError | None
    attempts: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    callback_url: str | None
    tenant: str
    progress: JobProgress | None = None  # None until the running job reports some

    @property
    def ready(self) -> bool:
        return self.status.is_terminal

    def to_public(self) -> dict[str, Any]:
        """The record as REST returns it (and a webhook message carries it as `data`)."""
        return {
            "id": self.id,
            "function": self.function,
            "status": self.status.value,
            "input": self.input,
            "result": self.result,
            "error": None if self.error is None else {"type": self.error.type,
                                                      "message": self.error.message},
            "attempts": self.attempts,
            "created_at": iso_time(self.created_at),
            "started_at": iso_time(self.started_at),
            "finished_at": iso_time(self.finished_at),
            "callback_url": self.callback_url,
            "progress": None if self.progress is None else self.progress.to_public(),
        }


def iso_time(ts: float | None) -> str | None:
    return None if ts is None else iso_seconds(ts)


def iso_seconds(ts: float) -> str:
    """Unix seconds as every face writes a time: ISO 8601 in UTC."""
    return datetime.fromtimestamp(ts, UTC).isoformat()


# --- the Redis hash codec -------------------------------------------------------------
# Every field is a string; JSON-valued fields hold JSON text so integers stay exact.


def new_record_fields(
    job_id: str,
    function: str,
    input_json: bytes,
    now: float,
    callback_url: str | None,
    tenant: str = "public",
    traceparent: str | None = None,
) -> dict[str, str | bytes]:
    """`traceparent`: the trace the job continues (tasks/tracing/context.py), when traced."""
    fields: dict[str, str | bytes] = {
        "id": job_id,
        "tenant": tenant,
        "function": function,
        "status": JobStatus.QUEUED.value,
        "input": input_json,
        "attempts": "0",
        "created_at": repr(now),
    }
    if callback_url:
        fields["callback_url"] = callback_url
    if traceparent:
        fields["traceparent"] = traceparent
    return fields


def queued_record(
    job_id: str,
    function: str,
    job_input: dict[str, Any],
    now: float,
    callback_url: str | None,
    tenant: str,
) -> JobRecord:
    """The record `new_record_fields` stores, built without decoding it back (the submit
    path answers with it)."""
    return JobRecord(id=job_id, function=function, status=JobStatus.QUEUED, input=job_input,
                     result=None, error=None, attempts=0, created_at=now, started_at=None,
                     finished_at=None, callback_url=callback_url or None, tenant=tenant)


def opt_float(fields: dict[str, str], name: str) -> float | None:
    raw = fields.get(name)
    return float(raw) if raw else None


def record_from_fields(raw: dict[Any, Any]) -> JobRecord:
    fields = {as_text(k): as_text(v) for k, v in raw.items()}
    error_json = fields.get("error")
    error = None
    if error_json:
        parsed = orjson.loads(error_json)
        error = JobError(type=str(parsed["type"]), message=str(parsed["message"]))
    result_json = fields.get("result")
    return JobRecord(
        id=fields["id"],
        function=fields["function"],
        status=JobStatus(fields["status"]),
        input=orjson.loads(fields["input"]),
        result=orjson.loads(result_json) if result_json else None,
        error=error,
        attempts=int(fields.get("attempts", "0")),
        created_at=float(fields["created_at"]),
        started_at=opt_float(fields, "started_at"),
        finished_at=opt_float(fields, "finished_at"),
        callback_url=fields.get("callback_url") or None,
        tenant=fields.get("tenant", "public"),
        progress=_progress(fields),
    )


def _progress(fields: dict[str, str]) -> JobProgress | None:
    raw = fields.get("progress")
    if not raw:
        return None
    parsed = orjson.loads(raw)
    return JobProgress(done=parsed["done"], total=parsed["total"], message=parsed["message"],
                       updated_at=float(parsed["updated_at"]),
                       seq=int(fields.get("progress_seq", "0")))


def record_from_event(payload: bytes | str) -> JobRecord:
    """A job event is the record's HGETALL as a flat JSON array [k1, v1, k2, v2, ...]."""
    flat = orjson.loads(payload)
    return record_from_fields(dict(zip(flat[::2], flat[1::2], strict=True)))


def error_json(exc_type: str, message: str) -> bytes:
    return orjson.dumps({"type": exc_type, "message": message[:1000]})


def progress_json(done: float, total: float, message: str | None, now: float) -> bytes:
    """A progress report as the record keeps it (tasks/jobs/progress.lua stores it)."""
    return orjson.dumps({"done": done, "total": total, "message": message, "updated_at": now})
