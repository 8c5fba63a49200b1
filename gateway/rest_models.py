"""Request and response shapes of the REST face (they also make its OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tasks.functions import SumInput, WaitInput
from tasks.jobs import JobRecord, JobStatus

# Documents the shape in OpenAPI; the service checks the rest (ports, addresses).
CALLBACK_URL_PATTERN = r"^https?://[^\s/?#]+([/?#]\S*)?$"
CallbackUrl = Annotated[
    str | None,
    Field(max_length=2048, pattern=CALLBACK_URL_PATTERN, json_schema_extra={"format": "uri"},
          description="POSTed a signed webhook when the job ends (http or https)."),
]


class Published(BaseModel):
    """The reference's submit answer, plus the job's status."""

    message: Literal["job published"] = "job published"
    job_id: str
    status: JobStatus = JobStatus.QUEUED


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

    @classmethod
    def of(cls, record: JobRecord) -> PollResult:
        public = record.to_public()
        return cls(ready=record.ready, result=record.result, job_id=record.id,
                   status=record.status, error=public["error"])


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

    @classmethod
    def of(cls, record: JobRecord) -> JobOut:
        return cls.model_validate(record.to_public())


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
