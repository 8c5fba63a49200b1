"""Routes over any job: generic submit, full record, cancel, and the function catalog."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gateway.rest import API_PREFIX
from gateway.rest.deps import ApiCaller, IdempotencyKey, Service, SubmitCaller
from gateway.rest.models import ERROR_RESPONSES, FunctionOut, JobOut, SubmitJob
from gateway.rest.route_class import GatewayRoute

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


@router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(service: Service, caller: ApiCaller, job_id: str) -> JobOut:
    return JobOut.of(await service.get(caller, job_id))


@router.delete("/jobs/{job_id}", response_model=JobOut)
async def cancel_job(service: Service, caller: ApiCaller, job_id: str) -> JobOut:
    """Cancel a job: a queued job never runs, a running one is stopped. Cancelling a
    cancelled job again is a no-op; cancelling a finished one is 409."""
    return JobOut.of(await service.cancel(caller, job_id))
