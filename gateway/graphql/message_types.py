"""GraphQL types of the failed-message listing and of recover."""

from __future__ import annotations

import strawberry

from gateway.graphql.timestamps import Timestamp, timestamp
from gateway.graphql.types import PageInfo
from gateway.graphql.webhook_types import Delivery, WebhookEndpoint
from gateway.services import message_filters
from gateway.services.webhooks import MessagePage, Recovery

MessageStatus = strawberry.enum(
    message_filters.MessageStatus, name="WebhookMessageStatus",
    description="FAILED: the last attempt failed (a retry is due, or it is held by its "
                "disabled endpoint) or it was dead-lettered; DEAD: dead-lettered only.")


@strawberry.type
class DeliveryEdge:
    cursor: str
    node: Delivery


@strawberry.type(description="A page of failed webhook messages, newest first.")
class DeliveryConnection:
    edges: list[DeliveryEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, page: MessagePage) -> DeliveryConnection:
        return cls(edges=[DeliveryEdge(cursor=cursor, node=Delivery.of(delivery))
                          for cursor, delivery in page.edges],
                   page_info=PageInfo(has_next_page=page.has_next_page,
                                      end_cursor=page.end_cursor))


@strawberry.type(description="What recoverWebhook did.")
class WebhookRecovery:
    endpoint: WebhookEndpoint
    since: Timestamp
    until: Timestamp | None
    recovered: int = strawberry.field(
        description="Failed or dead-lettered messages sent again now (same webhook-ids).")
    already_pending: int = strawberry.field(
        description="Already due (e.g. by an earlier recover): not sent twice.")
    in_flight: int = strawberry.field(description="Being sent right now: left alone.")

    @classmethod
    def of(cls, recovery: Recovery) -> WebhookRecovery:
        return cls(endpoint=WebhookEndpoint.of(recovery.endpoint),
                   since=Timestamp(recovery.since), until=timestamp(recovery.until),
                   recovered=recovery.recovered, already_pending=recovery.already_pending,
                   in_flight=recovery.in_flight)
