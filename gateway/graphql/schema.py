"""The GraphQL operations: thin resolvers over the job service (gateway/services/jobs.py).

`python -m gateway.graphql.schema` prints the SDL; `make schema` writes it to
gateway/graphql/schema.graphql, which a test keeps equal to this code.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig

from gateway.graphql.context import GatewayContext
from gateway.graphql.errors import GatewayErrors, GatewaySchema
from gateway.graphql.message_types import DeliveryConnection, MessageStatus, WebhookRecovery
from gateway.graphql.scalars import BIG_INT, BigInt
from gateway.graphql.timestamps import DATE_TIME, Timestamp
from gateway.graphql.types import FunctionInfo, Job, JobConnection, JobStatus
from gateway.graphql.webhook_types import Delivery, WebhookEndpoint
from gateway.services.errors import NotFound
from gateway.services.events import follow_job
from gateway.services.job_feed import follow_tenant
from gateway.services.jobs import JobService
from gateway.services.listing import PAGE_DEFAULT, PAGE_MAX
from tasks.jobs.functions import SUM, WAIT
from tasks.webhooks.flow import MAX_RATE_LIMIT

SCHEMA_FILE = Path(__file__).resolve().parent / "schema.graphql"

Info = strawberry.Info[GatewayContext, None]

CallbackUrl = Annotated[str | None, strawberry.argument(
    description="http(s) URL the job's signed webhook is POSTed to when it ends.")]
RateLimit = Annotated[int | None, strawberry.argument(
    description=f"Most deliveries per second to the endpoint, 1 to {MAX_RATE_LIMIT}; null: "
    "no limit of its own.")]
IdempotencyKey = Annotated[str | None, strawberry.argument(
    description="The same key and request within 24 h return the same job (nothing new is "
    "queued); the same key with another request is a CONFLICT error.")]


def _service(info: Info) -> JobService:
    return info.context.service


@strawberry.type
class Query:
    @strawberry.field(description="The job with this id; null when there is none (or it "
                      "expired).")
    async def job(self, info: Info, id: strawberry.ID) -> Job | None:
        try:
            return Job.of(await _service(info).get(info.context.caller, id))
        except NotFound:
            return None

    @strawberry.field(description=f"Jobs, newest first, optionally of one status and/or "
                      f"function (each filter reads an index of its own: every page but the "
                      f"last is full). `first` is 1 to {PAGE_MAX}; `after` takes the previous "
                      "page's `pageInfo.endCursor`.")
    async def jobs(
        self,
        info: Info,
        status: JobStatus | None = None,  # type: ignore[valid-type]
        function: str | None = None,
        first: int | None = PAGE_DEFAULT,
        after: str | None = None,
    ) -> JobConnection | None:
        page = await _service(info).list_jobs(info.context.caller, status, function,
                                              PAGE_DEFAULT if first is None else first, after)
        return JobConnection.of(page)

    @strawberry.field(description="Your registered webhook endpoints (never their secrets).")
    async def webhooks(self, info: Info) -> list[WebhookEndpoint]:
        found = await info.context.webhooks.list_endpoints(info.context.caller)
        return [WebhookEndpoint.of(e) for e in found]

    @strawberry.field(description=f"Your failed (or only dead-lettered) webhook messages, "
                      f"newest first by creation time; of one endpoint with `endpointId` (else "
                      f"per-job callbacks too), created in [since, until]. `first` is 1 to "
                      f"{PAGE_MAX}; `after` takes the previous page's `pageInfo.endCursor`; "
                      "every page but the last is full.")
    async def webhook_messages(
        self,
        info: Info,
        status: MessageStatus = MessageStatus.FAILED,  # type: ignore[valid-type]
        endpoint_id: strawberry.ID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int | None = PAGE_DEFAULT,
        after: str | None = None,
    ) -> DeliveryConnection:
        page = await info.context.webhooks.list_messages(
            info.context.caller, status, endpoint_id, since, until,
            PAGE_DEFAULT if first is None else first, after)
        return DeliveryConnection.of(page)

    @strawberry.field(description="The catalog: every function a job can run.")
    def functions(self, info: Info) -> list[FunctionInfo]:
        return [FunctionInfo.of(spec) for spec in _service(info).functions.values()]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Queue wait_and_return: sleep `seconds`, then return "
                         "'Hello World!'.")
    async def submit_wait_and_return(
        self, info: Info, seconds: float | None = 20.0,
        callback_url: CallbackUrl = None, idempotency_key: IdempotencyKey = None,
    ) -> Job:
        params: dict[str, Any] = {} if seconds is None else {"seconds": seconds}
        return Job.of(await _service(info).submit(info.context.caller, WAIT, params,
                                                  callback_url, idempotency_key))

    @strawberry.mutation(description="Queue sum_to_n_job: 1 + 2 + ... + number.")
    async def submit_sum(
        self, info: Info, number: BigInt,
        callback_url: CallbackUrl = None, idempotency_key: IdempotencyKey = None,
    ) -> Job:
        return Job.of(await _service(info).submit(info.context.caller, SUM,
                                                  {"number": number}, callback_url,
                                                  idempotency_key))

    @strawberry.mutation(description="Queue any function of the catalog; `input` is checked "
                         "against the function's input schema.")
    async def submit_job(
        self, info: Info, function: str, input: JSON,
        callback_url: CallbackUrl = None, idempotency_key: IdempotencyKey = None,
    ) -> Job:
        return Job.of(await _service(info).submit(info.context.caller, function, input,
                                                  callback_url, idempotency_key))

    @strawberry.mutation(description="Cancel a queued or running job; cancelling it again is "
                         "a no-op. A job that already ended is a CONFLICT error.")
    async def cancel_job(self, info: Info, id: strawberry.ID) -> Job | None:
        return Job.of(await _service(info).cancel(info.context.caller, id))


    @strawberry.mutation(description="Register an endpoint for the events of every job (the "
                         "end of every job when `events` is left out; job.progress and the "
                         "operational events endpoint.disabled and message.attempt.exhausted "
                         "only when named). "
                         "The answer holds its signing secret, shown only this once.")
    async def register_webhook(self, info: Info, url: str, events: list[str] | None = None,
                               description: str | None = None,
                               rate_limit: RateLimit = None) -> WebhookEndpoint:
        done = await info.context.webhooks.register(info.context.caller, url, events,
                                                    description, rate_limit)
        return WebhookEndpoint.of(done.endpoint, done.secret)

    @strawberry.mutation(description="Set an endpoint's rateLimit (null: no limit of its "
                         "own); the next claim keeps it.")
    async def set_webhook_rate_limit(self, info: Info, id: strawberry.ID,
                                     rate_limit: RateLimit) -> WebhookEndpoint:
        return WebhookEndpoint.of(await info.context.webhooks.set_rate_limit(
            info.context.caller, id, rate_limit))

    @strawberry.mutation(description="Delete an endpoint; its pending messages are "
                         "dead-lettered.")
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> WebhookEndpoint:
        return WebhookEndpoint.of(
            await info.context.webhooks.delete_endpoint(info.context.caller, id))

    @strawberry.mutation(description="A new signing secret, shown only in this answer; the "
                         "old one keeps signing beside it until the rotation grace ends.")
    async def rotate_webhook_secret(self, info: Info, id: strawberry.ID) -> WebhookEndpoint:
        done = await info.context.webhooks.rotate_secret(info.context.caller, id)
        return WebhookEndpoint.of(done.endpoint, done.secret)

    @strawberry.mutation(description="Enable an endpoint (a 410 Gone disables it); the "
                         "messages it held are sent now.")
    async def enable_webhook(self, info: Info, id: strawberry.ID) -> WebhookEndpoint:
        done = await info.context.webhooks.enable_endpoint(info.context.caller, id)
        return WebhookEndpoint.of(done.endpoint)

    @strawberry.mutation(description="Send a message again now, with the same webhook-id; "
                         "also a delivered or dead-lettered one.")
    async def redeliver_webhook(self, info: Info, delivery_id: strawberry.ID) -> Delivery:
        return Delivery.of(
            await info.context.webhooks.redeliver(info.context.caller, delivery_id))


    @strawberry.mutation(description="Send again every failed or dead-lettered message of the "
                         "endpoint created since `since` (and until `until`), with the same "
                         "webhook-ids; a message already due is not sent twice. A disabled "
                         "endpoint is a CONFLICT error (enable it first).")
    async def recover_webhook(self, info: Info, id: strawberry.ID, since: datetime,
                              until: datetime | None = None) -> WebhookRecovery:
        return WebhookRecovery.of(
            await info.context.webhooks.recover(info.context.caller, id, since, until))


@strawberry.type
class Subscription:
    @strawberry.subscription(description="The job's current state at once, then each change "
                             "as the worker makes it (its status, or a progress report); "
                             "completes after a final status.")
    async def job_updated(self, info: Info, id: strawberry.ID) -> AsyncGenerator[Job, None]:
        async for record in follow_job(info.context.events, _service(info),
                                       info.context.caller, id):
            yield Job.of(record)

    @strawberry.subscription(description="Your jobs as they change, for a live job list: "
                             "each change of any of your jobs from now on (a job's status, "
                             "attempts, result), optionally only those of one status and/or "
                             "function; never another tenant's. It never completes by "
                             "itself; read jobs() for the list so far after subscribing. An "
                             "UNAVAILABLE error ends it when changes may have been missed.")
    async def jobs_updated(
        self,
        info: Info,
        status: JobStatus | None = None,  # type: ignore[valid-type]
        function: str | None = None,
    ) -> AsyncGenerator[Job, None]:
        async for record in follow_tenant(info.context.events, _service(info),
                                          info.context.caller, status, function):
            yield Job.of(record)


def build_schema(extensions: list[Callable[[], SchemaExtension]] | None = None,
                 introspection: bool = True) -> GatewaySchema:
    return GatewaySchema(
        query=Query, mutation=Mutation, subscription=Subscription,
        # GatewayErrors last: it sees what the others did (a cached document, added rules).
        extensions=[*(extensions or []), GatewayErrors],
        # One DateTime: `datetime` in, `Timestamp` (epoch seconds) out.
        config=StrawberryConfig(scalar_map={BigInt: BIG_INT, datetime: DATE_TIME,
                                            Timestamp: DATE_TIME},
                                # Suggestions ("did you mean ...") reveal the schema.
                                disable_field_suggestions=not introspection),
    )


def sdl() -> str:
    return build_schema().as_str() + "\n"


if __name__ == "__main__":
    print(sdl(), end="")
