"""Typed dependencies for the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.service import JobService


def get_service(request: Request) -> JobService:
    service: JobService = request.app.state.service
    return service


Service = Annotated[JobService, Depends(get_service)]
