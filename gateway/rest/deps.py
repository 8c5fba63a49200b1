"""Typed dependencies for the routes: the job service, the caller, the idempotency key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from gateway.services.auth import Authenticator, Caller, presented_key_in
from gateway.services.jobs import JobService
from gateway.services.webhooks import WebhookService

# auto_error=False: a missing key is the Authenticator's call (keys may be off), and its
# error is our JSON 401, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <key>")


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


_CALLER = "gateway.caller"  # the scope's key for the caller, once checked


async def caller_of(request: HTTPConnection) -> Caller:
    """The caller a request's API key names (Unauthorized when keys are on and it has
    none or a wrong one), without FastAPI's dependency machinery: the hottest routes call
    it directly. Checked once per request: the faces check the key before they read a
    body, and the route's own call then finds it in the scope."""
    caller: Caller | None = request.scope.get(_CALLER)
    if caller is None:
        authenticator: Authenticator = request.app.state.authenticator
        caller = await authenticator.caller(presented_key_in(request.scope["headers"]))
        request.scope[_CALLER] = caller
    return caller


async def get_caller(
    request: Request,
    # Declared so that OpenAPI documents both ways to send the key; read by presented_key_in.
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _api_key: Annotated[str | None, Depends(_api_key)],
) -> Caller:
    return await caller_of(request)


async def get_limited_caller(
    service: Service, caller: Annotated[Caller, Depends(get_caller)]
) -> Caller:
    await service.rate_limit(caller)
    return caller


# Submit routes take `SubmitCaller`: their rate-limit token is taken inside the submit
# script (one Redis round trip per submit). Every other route takes `ApiCaller`.
SubmitCaller = Annotated[Caller, Depends(get_caller)]
ApiCaller = Annotated[Caller, Depends(get_limited_caller)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="The same key and request within 24 h "
           "return the same job; the same key with another request is 409."),
]


async def get_webhooks(request: Request) -> WebhookService:
    webhooks: WebhookService = request.app.state.webhooks
    return webhooks


Webhooks = Annotated[WebhookService, Depends(get_webhooks)]
