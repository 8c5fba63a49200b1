"""The object types of the GraphQL schema, each built from the job service's records."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from strawberry.scalars import JSON

from gateway.graphql.timestamps import Timestamp, timestamp
from gateway.graphql.webhook_types import Delivery
from gateway.services.listing import JobPage
from tasks.jobs.catalog import FunctionSpec
from tasks.jobs.record import JobProgress as StoreJobProgress
from tasks.jobs.record import JobRecord
from tasks.jobs.record import JobStatus as StoreJobStatus

if TYPE_CHECKING:
    from gateway.graphql.context import GatewayContext

JobStatus = strawberry.enum(
    StoreJobStatus, name="JobStatus",
    description="Where a job is. SUCCEEDED, FAILED, CANCELLED and EXPIRED are final.")


@strawberry.type(description="Why a job failed: the exception's type and message.")
class JobError:
    type: str
    message: str


@strawberry.type(description="How far a running job said it was at its last written report "
                 "(a job function's progress(done, total, message); at most one per "
                 "PROGRESS_INTERVAL_MS, and the final one).")
class JobProgress:
    done: float
    total: float
    fraction: float = strawberry.field(description="done / total, from 0 to 1.")
    message: str | None
    updated_at: Timestamp

    @classmethod
    def of(cls, progress: StoreJobProgress) -> JobProgress:
        return cls(done=progress.done, total=progress.total, fraction=progress.fraction,
                   message=progress.message, updated_at=Timestamp(progress.updated_at))


@strawberry.type(description="One call of a catalog function, and what became of it.")
class Job:
    id: strawberry.ID
    function: str = strawberry.field(description="The catalog function it runs.")
    status: JobStatus  # type: ignore[valid-type]
    input: JSON = strawberry.field(description="The validated input, as the function gets it.")
    result: JSON | None = strawberry.field(description="The return value, once SUCCEEDED.")
    error: JobError | None = strawberry.field(description="Set when the job FAILED.")
    attempts: int = strawberry.field(description="How many times a worker started it.")
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    callback_url: str | None = strawberry.field(
        description="Where the job's webhook is delivered.")
    progress: JobProgress | None = strawberry.field(
        description="null until the running job reports progress; jobUpdated pushes each "
        "report. A retry starts without it.")

    @strawberry.field(description="The job's webhook messages (its callbackUrl and each "
                      "subscribed endpoint) with every attempt: its end's, and job.progress "
                      "messages for endpoints that named that event.")
    async def deliveries(self, info: strawberry.Info[GatewayContext, None]) -> list[Delivery]:
        found = await info.context.webhooks.deliveries_of(str(self.id))
        return [Delivery.of(d) for d in found]

    @classmethod
    def of(cls, record: JobRecord) -> Job:
        error = record.error
        return cls(
            id=strawberry.ID(record.id), function=record.function, status=record.status,
            input=JSON(record.input), result=record.result,
            error=None if error is None else JobError(type=error.type, message=error.message),
            attempts=record.attempts, created_at=Timestamp(record.created_at),
            started_at=timestamp(record.started_at), finished_at=timestamp(record.finished_at),
            callback_url=record.callback_url,
            progress=None if record.progress is None else JobProgress.of(record.progress),
        )


@strawberry.type(description="A function of the catalog and the input it takes.")
class FunctionInfo:
    name: str
    description: str
    input_schema: JSON = strawberry.field(description="The input's JSON Schema.")

    @classmethod
    def of(cls, spec: FunctionSpec) -> FunctionInfo:
        return cls(name=spec.name, description=spec.description,
                   input_schema=JSON(spec.input_schema()))


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page.")


@strawberry.type
class JobEdge:
    cursor: str
    node: Job


@strawberry.type(description="A page of jobs, newest first.")
class JobConnection:
    edges: list[JobEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, page: JobPage) -> JobConnection:
        return cls(
            edges=[JobEdge(cursor=cursor, node=Job.of(record)) for cursor, record in page.edges],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )
