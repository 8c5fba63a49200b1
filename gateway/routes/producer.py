"""The reference's REST routes, kept compatible: same paths, bodies, keys and codes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response

from gateway.deps import Service, service_of
from gateway.rest_models import (
    ERROR_RESPONSES,
    PollResult,
    Published,
    SumBody,
    WaitBody,
    published_response,
)
from tasks.functions import WaitInput

router = APIRouter(tags=["reference routes"], responses=ERROR_RESPONSES)

WAIT = "wait_and_return"
SUM = "sum_to_n_job"


@router.get("/")
async def hello() -> dict[str, str]:
    return {"message": "Hello World, this is a route from the producer or job master"}


@router.get("/wait_and_return", response_model=Published)
async def queue_wait_and_return(
    service: Service,
    callback_url: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    """Queue `wait_and_return` with its default 20 seconds (the reference's bodiless GET)."""
    record = await service.submit_validated(service.function(WAIT), WaitInput(), callback_url)
    return published_response(record.id)


@router.post("/wait_and_return", response_model=Published)
async def submit_wait_and_return(
    service: Service, body: Annotated[WaitBody | None, Body()] = None
) -> Response:
    """Queue `wait_and_return`; the body `{"seconds": n}` is optional."""
    body = body or WaitBody()
    record = await service.submit_validated(service.function(WAIT), body, body.callback_url)
    return published_response(record.id)


@router.get("/wait_and_return/{job_id}", response_model=PollResult)
async def poll_wait_and_return(service: Service, job_id: str) -> Response:
    return PollResult.response(await service.get(job_id, function=WAIT))


@router.post("/sum", response_model=Published)
async def submit_sum(request: Request, body: SumBody) -> Response:
    """Queue `sum_to_n_job`: 1 + 2 + ... + number."""
    service = service_of(request)
    record = await service.submit_validated(service.function(SUM), body, body.callback_url)
    return published_response(record.id)


@router.get("/sum/{job_id}", response_model=PollResult)
async def poll_sum(request: Request, job_id: str) -> Response:
    return PollResult.response(await service_of(request).get(job_id, function=SUM))
