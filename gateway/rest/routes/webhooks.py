"""REST face of the webhook service: registered endpoints, a job's deliveries, replay, the
failed messages and recover."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from gateway.rest.deps import ApiCaller, Webhooks
from gateway.rest.models import ERROR_RESPONSES
from gateway.rest.route_class import GatewayRoute
from gateway.rest.webhook_models import (
    DeliveryOut,
    EnabledWebhookOut,
    MessagePageOut,
    RecoverWebhook,
    RecoveryOut,
    RegisterWebhook,
    UpdateWebhook,
    WebhookOut,
    WebhookWithSecret,
)
from gateway.services.listing import PAGE_DEFAULT
from gateway.services.message_filters import MAX_TIME_LENGTH

router = APIRouter(tags=["webhooks"], responses=ERROR_RESPONSES, route_class=GatewayRoute)
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "Not possible in the current state."}}


@router.post("/webhooks", response_model=WebhookWithSecret, status_code=201, responses=CONFLICT)
async def register_webhook(webhooks: Webhooks, caller: ApiCaller,
                           body: RegisterWebhook) -> WebhookWithSecret:
    """Register an endpoint for every job's events; the answer holds its signing secret,
    which is never shown again."""
    registered = await webhooks.register(caller, body.url, body.events, body.description,
                                         body.rate_limit)
    return WebhookWithSecret.of(registered.endpoint, secret=registered.secret)


@router.get("/webhooks", response_model=list[WebhookOut])
async def list_webhooks(webhooks: Webhooks, caller: ApiCaller) -> list[WebhookOut]:
    return [WebhookOut.of(e) for e in await webhooks.list_endpoints(caller)]


# Before /webhooks/{endpoint_id}, which would otherwise take "messages" for an id.
@router.get("/webhooks/messages", response_model=MessagePageOut)
async def list_messages(
    webhooks: Webhooks, caller: ApiCaller,
    status: Annotated[str, Query(max_length=10, description="failed (the last attempt "
                                 "failed, or dead-lettered) or dead (dead-lettered only)")
                      ] = "failed",
    endpoint_id: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[str | None, Query(max_length=MAX_TIME_LENGTH,
                                       description="RFC 3339: created at or after")] = None,
    until: Annotated[str | None, Query(max_length=MAX_TIME_LENGTH,
                                       description="RFC 3339: created at or before")] = None,
    first: int = PAGE_DEFAULT,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> MessagePageOut:
    """Your failed or dead-lettered messages, newest first; of one endpoint with
    `endpoint_id` (else per-job callbacks too). Every page but the last is full."""
    page = await webhooks.list_messages(caller, status, endpoint_id, since, until, first, after)
    return MessagePageOut(data=[DeliveryOut.of(d) for _, d in page.edges],
                          has_next_page=page.has_next_page, next_cursor=page.end_cursor)


@router.get("/webhooks/{endpoint_id}", response_model=WebhookOut)
async def get_webhook(webhooks: Webhooks, caller: ApiCaller, endpoint_id: str) -> WebhookOut:
    return WebhookOut.of(await webhooks.get_endpoint(caller, endpoint_id))


@router.patch("/webhooks/{endpoint_id}", response_model=WebhookOut)
async def update_webhook(webhooks: Webhooks, caller: ApiCaller, endpoint_id: str,
                         body: UpdateWebhook) -> WebhookOut:
    """Change an endpoint's `rate_limit` (null: no limit); the next claim keeps it."""
    return WebhookOut.of(await webhooks.set_rate_limit(caller, endpoint_id, body.rate_limit))


@router.delete("/webhooks/{endpoint_id}", response_model=WebhookOut)
async def delete_webhook(webhooks: Webhooks, caller: ApiCaller, endpoint_id: str) -> WebhookOut:
    """Delete an endpoint; its pending messages are dead-lettered."""
    return WebhookOut.of(await webhooks.delete_endpoint(caller, endpoint_id))


@router.post("/webhooks/{endpoint_id}/rotate-secret", response_model=WebhookWithSecret)
async def rotate_webhook_secret(webhooks: Webhooks, caller: ApiCaller,
                                endpoint_id: str) -> WebhookWithSecret:
    """A new secret, shown once; the old one also signs until the rotation grace ends."""
    rotated = await webhooks.rotate_secret(caller, endpoint_id)
    return WebhookWithSecret.of(rotated.endpoint, secret=rotated.secret)


@router.post("/webhooks/{endpoint_id}/enable", response_model=EnabledWebhookOut)
async def enable_webhook(webhooks: Webhooks, caller: ApiCaller,
                         endpoint_id: str) -> EnabledWebhookOut:
    """Enable an endpoint (a 410 Gone disables it); the messages it held are sent."""
    enabled = await webhooks.enable_endpoint(caller, endpoint_id)
    return EnabledWebhookOut.of(enabled.endpoint,
                                resumed_deliveries=enabled.resumed_deliveries)


@router.post("/webhooks/{endpoint_id}/recover", response_model=RecoveryOut, status_code=202,
             responses=CONFLICT)
async def recover_webhook(webhooks: Webhooks, caller: ApiCaller, endpoint_id: str,
                          body: RecoverWebhook) -> RecoveryOut:
    """Send again every failed or dead-lettered message of the endpoint created since
    `since` (same webhook-ids); a message already due is not sent twice."""
    return RecoveryOut.of(await webhooks.recover(caller, endpoint_id, body.since, body.until))


@router.get("/jobs/{job_id}/deliveries", response_model=list[DeliveryOut])
async def job_deliveries(webhooks: Webhooks, caller: ApiCaller, job_id: str) -> list[DeliveryOut]:
    """The job's webhook messages with every attempt (empty until the job ends)."""
    return [DeliveryOut.of(d) for d in await webhooks.job_deliveries(caller, job_id)]


@router.get("/deliveries/{delivery_id}", response_model=DeliveryOut)
async def get_delivery(webhooks: Webhooks, caller: ApiCaller, delivery_id: str) -> DeliveryOut:
    return DeliveryOut.of(await webhooks.get_delivery(caller, delivery_id))


@router.post("/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut,
             status_code=202, responses=CONFLICT)
async def redeliver(webhooks: Webhooks, caller: ApiCaller, delivery_id: str) -> DeliveryOut:
    """Send the message again now (same webhook-id), also after it was dead-lettered."""
    return DeliveryOut.of(await webhooks.redeliver(caller, delivery_id))
