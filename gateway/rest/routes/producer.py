"""The reference's REST routes, kept compatible: same paths, bodies, keys and codes.

They are the hottest routes (the reference's load test hammers submit and poll), so they
skip FastAPI's dependency solver (`service_of`, `caller_of` are plain calls) and answer
pre-serialized JSON; the models still document them in OpenAPI. The `@express` ones are
also served, when the request is well formed, by gateway/rest/express.py, past FastAPI's
routing altogether.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel

from gateway.rest.deps import (
    SECURED,
    IdempotencyKey,
    api_caller_of,
    caller_of,
    live_of,
    service_of,
)
from gateway.rest.express import express
from gateway.rest.models import (
    CALLBACK_URL_PATTERN,
    ERROR_RESPONSES,
    PollResult,
    Published,
    SumBody,
    Wait,
    WaitBody,
    published_response,
)
from gateway.rest.route_class import GatewayRoute
from tasks.jobs.functions import SUM, WAIT, WaitInput

router = APIRouter(tags=["reference routes"], responses=ERROR_RESPONSES, route_class=GatewayRoute)


@router.get("/")
async def hello() -> dict[str, str]:
    return {"message": "Hello World, this is a route from the producer or job master"}


@router.get("/wait_and_return", response_model=Published, openapi_extra=SECURED)
async def queue_wait_and_return(
    request: Request,
    idempotency_key: IdempotencyKey = None,
    callback_url: Annotated[
        str | None, Query(max_length=2048, pattern=CALLBACK_URL_PATTERN)] = None,
) -> Response:
    """Queue `wait_and_return` with its default 20 seconds (the reference's bodiless GET)."""
    return await queue(request, WAIT, WaitInput(), callback_url, idempotency_key)


@router.post("/wait_and_return", response_model=Published, openapi_extra=SECURED)
async def submit_wait_and_return(
    request: Request,
    idempotency_key: IdempotencyKey = None,
    body: Annotated[WaitBody | None, Body()] = None,
) -> Response:
    """Queue `wait_and_return`; the body `{"seconds": n}` is optional."""
    body = body or WaitBody()
    return await queue(request, WAIT, body, body.callback_url, idempotency_key)


@router.get("/wait_and_return/{job_id}", response_model=PollResult, openapi_extra=SECURED)
@express
async def poll_wait_and_return(request: Request, job_id: str, wait: Wait = None) -> Response:
    return await poll(request, job_id, WAIT, wait)


@router.post("/sum", response_model=Published, openapi_extra=SECURED)
@express
async def submit_sum(
    request: Request, body: SumBody, idempotency_key: IdempotencyKey = None
) -> Response:
    """Queue `sum_to_n_job`: 1 + 2 + ... + number."""
    return await queue(request, SUM, body, body.callback_url, idempotency_key)


@router.get("/sum/{job_id}", response_model=PollResult, openapi_extra=SECURED)
@express
async def poll_sum(request: Request, job_id: str, wait: Wait = None) -> Response:
    return await poll(request, job_id, SUM, wait)


async def queue(request: Request, function: str, params: BaseModel, callback_url: str | None,
                idempotency_key: str | None) -> Response:
    service = await service_of(request)
    job = await service.enqueue(await caller_of(request), service.function(function), params,
                                callback_url, idempotency_key)
    return published_response(job.id)


async def poll(request: Request, job_id: str, function: str, wait: float | None) -> Response:
    """The job's state now; with `wait`, as soon as it ends (or once `wait` is over)."""
    caller = await api_caller_of(request)
    live = await live_of(request)
    return PollResult.response(await live.wait_for_end(caller, job_id, wait, function))
