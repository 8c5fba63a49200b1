"""Typed dependencies for the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.service import JobService
from gateway.webhooks_service import WebhookService


def get_service(request: Request) -> JobService:
    service: JobService = request.app.state.service
    return service


Service = Annotated[JobService, Depends(get_service)]


def get_webhooks(request: Request) -> WebhookService:
    webhooks: WebhookService = request.app.state.webhooks
    return webhooks


Webhooks = Annotated[WebhookService, Depends(get_webhooks)]
