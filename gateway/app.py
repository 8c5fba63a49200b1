"""The ASGI application: `gateway.app:app`, built by `create_app()`."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.responses import ORJSONResponse

from gateway import http_errors
from gateway.body_limit import BodyLimitMiddleware
from gateway.routes import health, jobs, producer
from gateway.service import JobService
from tasks.celery_app import celery_app
from tasks.settings import Settings, get_settings
from tasks.store import redis_client_options

API_PREFIX = "/producer/api"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logging.basicConfig(level=settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Connecting is lazy: the gateway starts (and answers 503) while Redis is down.
        client = aioredis.Redis.from_url(settings.effective_redis_url,
                                         max_connections=256,
                                         **redis_client_options(settings))
        app.state.service = JobService(settings, client, celery_app)
        # Everything imported so far lives as long as the process: move it out of the
        # collector's sight, so the frequent collections of request garbage stay cheap.
        gc.collect()
        gc.freeze()
        yield
        await client.aclose()

    app = FastAPI(
        title="Job gateway",
        version="0.1.0",
        description="Submit jobs, poll them by id, cancel them. Results also come by webhook.",
        lifespan=lifespan,
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
        default_response_class=ORJSONResponse,
    )
    http_errors.install(app)
    app.include_router(producer.router, prefix=API_PREFIX)
    app.include_router(jobs.router, prefix=API_PREFIX)
    app.include_router(health.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    log = logging.getLogger("gateway")
    log.info("gateway ready (pid %s, broker %s)", os.getpid(),
             "redis fast path" if settings.broker_is_redis else "celery publish")
    return app


app = create_app()
