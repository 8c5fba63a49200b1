"""The gateway process's composition root: `gateway.app:app`, built by `create_app()`.

It reads the settings (here, and only here, from the environment), builds the services
both faces call (gateway/services/) and the faces themselves (REST: gateway/rest/;
GraphQL: gateway/graphql/), and wraps them in the plain ASGI layers (gateway/asgi/).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import ORJSONResponse
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp

from gateway import gc_tuning
from gateway.asgi.body_limit import BodyLimitMiddleware
from gateway.asgi.request_log import RequestLogMiddleware
from gateway.asgi.ws_limit import WebSocketMessageLimit
from gateway.graphql.graphiql import ASSETS_DIR, ASSETS_PATH
from gateway.graphql.router import PATH as GRAPHQL_PATH
from gateway.graphql.router import graphql_app
from gateway.rest import API_PREFIX
from gateway.rest import errors as http_errors
from gateway.rest.express import ExpressLane
from gateway.rest.routes import health, jobs, metrics, producer, webhooks
from gateway.services.auth import Authenticator
from gateway.services.events import JobEventHub
from gateway.services.jobs import JobService
from gateway.services.live import LiveJobs
from gateway.services.metrics import MIRRORED
from gateway.services.metrics_flush import MetricsFlusher
from gateway.services.streams import StreamGate
from gateway.services.webhooks import WebhookService
from gateway.shutdown import on_shutdown_signal
from tasks.celery_app import create_celery
from tasks.jobs.catalog import Catalog
from tasks.logs import configure_logging
from tasks.redis.clients import gateway_client
from tasks.settings import Settings, get_settings
from tasks.tracing import setup as tracing


def create_app(settings: Settings | None = None) -> ASGIApp:
    """The FastAPI app inside the plain ASGI layers every request passes (the express
    lane's requests too). Outermost: request id, request log and HTTP metrics see every
    answer, 413s included; then, when tracing is on, the request span."""
    settings = settings or get_settings()
    api = build_api(settings)
    asgi: ASGIApp = ExpressLane(api, {GRAPHQL_PATH: api.state.graphql},
                                cors=bool(settings.cors_origins))
    asgi = WebSocketMessageLimit(asgi, max_bytes=settings.max_body_bytes)
    asgi = BodyLimitMiddleware(asgi, max_bytes=settings.max_body_bytes)
    if tracing.configure("job-gateway"):  # OTEL_* asks for traces: the request span
        from gateway.asgi.tracing import TracedRequests  # imported only when tracing is on

        asgi = TracedRequests(asgi, (route.path_format for route in iter_route_contexts(
            api.routes) if route.path_format))
    return RequestLogMiddleware(asgi)


def build_api(settings: Settings) -> FastAPI:
    configure_logging(settings.log_level)
    log = logging.getLogger("gateway")
    celery = create_celery(settings)  # publishes on other brokers than Redis; revokes
    functions = Catalog(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = gateway_client(settings)
        app.state.service = JobService(settings, client, celery, functions)
        app.state.authenticator = Authenticator(settings.api_keys, client)
        app.state.job_events = JobEventHub(client, settings.redis_timeout_seconds)
        app.state.webhooks = WebhookService(app.state.service)
        app.state.metrics = MetricsFlusher(client, MIRRORED)
        app.state.metrics.start()
        # Event streams and long polls: bounded, and ended as soon as the process is told
        # to stop (uvicorn would wait for them before anything else).
        streams = StreamGate(settings.event_streams_max)
        app.state.live = LiveJobs(app.state.service, app.state.job_events, streams)
        restore_signals = on_shutdown_signal(streams.close)
        if not settings.api_keys:
            log.warning("no API_KEYS configured: unless keys are stored in Redis "
                        "(python -m gateway.keys), the API is open to anyone who can reach it")
        gc_tuning.tune()  # what lives as long as the process, out of the collector's sight
        yield
        streams.close()
        restore_signals()
        await app.state.metrics.aclose()
        await app.state.job_events.aclose()
        await client.aclose(close_connection_pool=True)

    app = FastAPI(
        title="Job gateway",
        version="0.1.0",
        description="Submit jobs, poll them by id, cancel them. Results also come by webhook.",
        lifespan=lifespan,
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
        default_response_class=ORJSONResponse,
        # FastAPI's own OpenTelemetry would start a second trace per request it routes (it
        # never sees the express lane): the request span is gateway/asgi/tracing.py's.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    http_errors.install(app)
    app.include_router(producer.router, prefix=API_PREFIX)
    app.include_router(jobs.router, prefix=API_PREFIX)
    app.include_router(webhooks.router, prefix=API_PREFIX)
    app.include_router(health.router)
    # GraphQL documents itself (introspection, schema.graphql): no OpenAPI entry.
    app.state.graphql = graphql = graphql_app(settings)
    app.router.routes += [
        Route(GRAPHQL_PATH, graphql, methods=["GET", "POST"], include_in_schema=False),
        WebSocketRoute(GRAPHQL_PATH, graphql)]
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="graphiql-assets")
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "Idempotency-Key",
                           "X-Request-ID"],
            max_age=600,
        )
    app.include_router(metrics.router)
    log.info("gateway ready (pid %s, broker %s)", os.getpid(),
             "redis fast path" if settings.broker_is_redis else "celery publish")
    return app


app = create_app()
