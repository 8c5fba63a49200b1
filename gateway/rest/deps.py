"""What the REST routes take from a request: the services, the caller, the idempotency key.

One function each, called directly by the hottest routes (the reference's submit and poll
skip FastAPI's dependency solver: solving even one async dependency cost them about a
tenth of their throughput) and wrapped in `Depends` for the others. The rate-limit rule
is decided here: every REST call takes one token of its caller's bucket (`api_caller_of`),
except a submit, whose token is taken inside the submit script (`caller_of` only).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from gateway.services.auth import Authenticator, Caller
from gateway.services.jobs import JobService
from gateway.services.live import LiveJobs
from gateway.services.webhooks import WebhookService

# auto_error=False: a missing key is the Authenticator's call (keys may be off), and its
# error is our JSON 401, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <key>")
# The same security, for the OpenAPI document of routes that call caller_of directly.
SECURED: dict[str, object] = {"security": [{"HTTPBearer": []}, {"APIKeyHeader": []}]}


# async, each: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per
# request that cost the submit path about a fifth of its throughput.
async def service_of(request: HTTPConnection) -> JobService:
    service: JobService = request.app.state.service
    return service


async def live_of(request: HTTPConnection) -> LiveJobs:
    live: LiveJobs = request.app.state.live
    return live


async def webhooks_of(request: HTTPConnection) -> WebhookService:
    webhooks: WebhookService = request.app.state.webhooks
    return webhooks


async def caller_of(request: HTTPConnection) -> Caller:
    """The caller the request's API key names (Unauthorized when keys are on and it has
    none or a wrong one); checked once per request."""
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.caller_for(request.scope)


async def api_caller_of(request: HTTPConnection) -> Caller:
    """The caller, once it has taken its token for this call (RateLimited otherwise)."""
    caller = await caller_of(request)
    await (await service_of(request)).rate_limit(caller)
    return caller


async def _documented(
    # Declared so that OpenAPI documents both ways to send the key; read by caller_of.
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _api_key: Annotated[str | None, Depends(_api_key)],
) -> None:
    return None


async def _submit_caller(request: HTTPConnection, _: Annotated[None, Depends(_documented)],
                         ) -> Caller:
    return await caller_of(request)


async def _api_caller(request: HTTPConnection, _: Annotated[None, Depends(_documented)],
                      ) -> Caller:
    return await api_caller_of(request)


Service = Annotated[JobService, Depends(service_of)]
Webhooks = Annotated[WebhookService, Depends(webhooks_of)]
Live = Annotated[LiveJobs, Depends(live_of)]
SubmitCaller = Annotated[Caller, Depends(_submit_caller)]
ApiCaller = Annotated[Caller, Depends(_api_caller)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="The same key and request within 24 h "
           "return the same job; the same key with another request is 409."),
]
