"""Routes over any job: generic submit, listing, full record, cancel, and the function
catalog."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from gateway.rest import API_PREFIX
from gateway.rest.deps import ApiCaller, IdempotencyKey, Live, Service, SubmitCaller
from gateway.rest.models import (
    ERROR_RESPONSES,
    FunctionOut,
    JobOut,
    JobPageOut,
    SubmitJob,
    Wait,
)
from gateway.rest.route_class import GatewayRoute
from gateway.rest.sse import OPENAPI_200, JobEventStream
from gateway.services.listing import MAX_CURSOR_LENGTH, PAGE_DEFAULT, PAGE_MAX

router = APIRouter(tags=["jobs"], responses=ERROR_RESPONSES, route_class=GatewayRoute)


@router.get("/functions", response_model=list[FunctionOut])
async def list_functions(service: Service, _: ApiCaller) -> list[FunctionOut]:
    return [FunctionOut(name=s.name, description=s.description, input_schema=s.input_schema())
            for s in service.functions.values()]


@router.post("/jobs", response_model=JobOut, status_code=202)
async def submit_job(
    service: Service,
    caller: SubmitCaller,
    body: SubmitJob,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobOut:
    """Queue any function of the catalog with its input."""
    record = await service.submit(caller, body.function, body.input, body.callback_url,
                                  idempotency_key)
    response.headers["Location"] = f"{API_PREFIX}/jobs/{record.id}"
    return JobOut.of(record)


@router.get("/jobs", response_model=JobPageOut)
async def list_jobs(
    service: Service,
    caller: ApiCaller,
    status: Annotated[str | None, Query(max_length=20, description="QUEUED, STARTED, "
                                        "RETRYING, SUCCEEDED, FAILED, CANCELLED or EXPIRED")
                      ] = None,
    function: Annotated[str | None, Query(max_length=200, description="A function of the "
                                          "catalog (GET /functions).")] = None,
    first: Annotated[int, Query(description=f"1 to {PAGE_MAX}")] = PAGE_DEFAULT,
    after: Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH,
                                       description="The previous page's next_cursor.")] = None,
) -> JobPageOut:
    """Your jobs, newest first, optionally of one status and/or function. Filters read an
    index of their own: every page but the last is full."""
    page = await service.list_jobs(caller, status, function, first, after)
    return JobPageOut(data=[JobOut.of(record) for _, record in page.edges],
                      has_next_page=page.has_next_page, next_cursor=page.end_cursor)


@router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(live: Live, caller: ApiCaller, job_id: str, wait: Wait = None) -> JobOut:
    """The job's record; with `wait`, as soon as the job ends (or once `wait` is over)."""
    return JobOut.of(await live.wait_for_end(caller, job_id, wait))


@router.get("/jobs/{job_id}/events", response_class=JobEventStream, status_code=200,
            responses={200: {**OPENAPI_200, "description": "Server-Sent Events: the record "
                             "(as GET /jobs/{id}) in a `data:` line, then each change; "
                             "`: keep-alive` comments while idle; the stream ends after the "
                             "final status (or an `event: error`)."}})
async def job_events(live: Live, caller: ApiCaller, job_id: str) -> JobEventStream:
    """The job's record, then every change as it happens (Server-Sent Events), ending after
    its final status. An unknown job is a 404 before the stream starts."""
    events = await live.open_events(caller, job_id)
    return JobEventStream(events, live.keepalive_seconds)


@router.delete("/jobs/{job_id}", response_model=JobOut)
async def cancel_job(service: Service, caller: ApiCaller, job_id: str) -> JobOut:
    """Cancel a job: a queued job never runs, a running one is stopped. Cancelling a
    cancelled job again is a no-op; cancelling a finished one is 409."""
    return JobOut.of(await service.cancel(caller, job_id))
