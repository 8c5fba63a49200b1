"""Typed dependencies for the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.service import JobService


async def get_service(request: Request) -> JobService:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per
    # request that cost the submit path about a fifth of its throughput.
    service: JobService = request.app.state.service
    return service


Service = Annotated[JobService, Depends(get_service)]


def service_of(request: Request) -> JobService:
    """The service without FastAPI's dependency machinery, for the hottest routes (the
    reference's submit and poll): solving even one async dependency costs those routes
    about a tenth of their throughput."""
    service: JobService = request.app.state.service
    return service
