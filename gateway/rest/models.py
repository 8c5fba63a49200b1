"""Request and response shapes of the REST face (they also make its OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import Query, Response
from pydantic import BaseModel, ConfigDict, Field

from tasks.jobs.functions import SumInput, WaitInput
from tasks.jobs.record import JobRecord, JobStatus

# Documents the shape in OpenAPI; the service checks the rest (ports, addresses).
CALLBACK_URL_PATTERN = r"^https?://[^\s/?#]+([/?#]\S*)?$"
CallbackUrl = Annotated[
    str | None,
    Field(max_length=2048, pattern=CALLBACK_URL_PATTERN, json_schema_extra={"format": "uri"},
          description="POSTed a signed webhook when the job ends (http or https)."),
]


# A poll's long-polling parameter; the service checks its range (LONG_POLL_MAX_SECONDS).
Wait = Annotated[float | None, Query(
    description="Long polling: answer as soon as the job ends, or after this many seconds "
    "with its state then (0 to LONG_POLL_MAX_SECONDS, 60 by default). Without it the "
    "answer comes at once.")]


class Published(BaseModel):
    """The reference's submit answer, plus the job's status."""

    message: Literal["job published"] = "job published"
    job_id: str
    status: JobStatus = JobStatus.QUEUED


def json_response(payload: dict[str, Any]) -> Response:
    """A pre-serialized answer. FastAPI re-validates a returned model against the route's
    `response_model` before serializing it; a Response skips that (the model then only
    documents the route), which the hot routes cannot afford."""
    return Response(orjson.dumps(payload), media_type="application/json")


def published_response(job_id: str) -> Response:
    """`Published` for a just-queued job."""
    return json_response({"message": "job published", "job_id": job_id,
                          "status": JobStatus.QUEUED.value})


class JobErrorOut(BaseModel):
    type: str
    message: str


class PollResult(BaseModel):
    """The reference's poll answer (`ready`, `result`), plus status and error."""

    ready: bool
    result: Any = None
    job_id: str
    status: JobStatus
    error: JobErrorOut | None = None

    @staticmethod
    def response(record: JobRecord) -> Response:
        """The poll answer for a record, pre-serialized (see `json_response`)."""
        error = record.error
        return json_response({
            "ready": record.ready, "result": record.result, "job_id": record.id,
            "status": record.status.value,
            "error": None if error is None else {"type": error.type, "message": error.message},
        })


class JobProgressOut(BaseModel):
    """How far the job said it was at its last written report (a job function's
    `progress(done, total, message)`; throttled, PROGRESS_INTERVAL_MS)."""

    done: int | float
    total: int | float
    fraction: float = Field(..., description="done / total, from 0 to 1.")
    message: str | None = None
    updated_at: str


class JobOut(BaseModel):
    id: str
    function: str
    status: JobStatus
    input: dict[str, Any]
    result: Any = None
    error: JobErrorOut | None = None
    attempts: int
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    callback_url: str | None = None
    progress: JobProgressOut | None = Field(
        None, description="null until the running job reports progress; a retry starts "
        "without it.")

    @classmethod
    def of(cls, record: JobRecord) -> JobOut:
        return cls.model_validate(record.to_public())


class JobPageOut(BaseModel):
    data: list[JobOut] = Field(..., description="Newest first (by creation time).")
    has_next_page: bool
    next_cursor: str | None = Field(
        None, description="Pass as `after` for the next page (null: nothing listed); the same "
        "cursors as GraphQL's `jobs` pageInfo.endCursor.")


class SubmitJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    function: str = Field(..., max_length=200, description="A function of the catalog.")
    input: dict[str, Any] = Field(default_factory=dict)
    callback_url: CallbackUrl = None


class FunctionOut(BaseModel):
    name: str
    description: str
    input_schema: dict[str, Any]


class ErrorOut(BaseModel):
    error: str
    message: str
    detail: Any


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "API keys are on and the call has no valid one."},
    404: {"model": ErrorOut, "description": "Unknown job id (or another function's job)."},
    413: {"model": ErrorOut, "description": "Request body too large."},
    409: {"model": ErrorOut, "description": "Idempotency-Key reused for another request, "
          "or cancel of a finished job."},
    422: {"model": ErrorOut, "description": "Invalid input; nothing was enqueued."},
    429: {"model": ErrorOut, "description": "Rate limit exceeded; see Retry-After."},
    503: {"model": ErrorOut, "description": "Redis or the broker is unavailable, or the "
          "queue is full; see Retry-After."},
}


class CallbackField(BaseModel):
    callback_url: CallbackUrl = None


class WaitBody(WaitInput, CallbackField):
    pass


class SumBody(SumInput, CallbackField):
    pass
