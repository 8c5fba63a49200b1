"""GET /healthz: ready when Redis answers and at least one worker is alive."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from gateway.rest.deps import Service
from tasks.heartbeat import ALIVE_WINDOW_SECONDS
from tasks.redis.keys import WORKERS_KEY

router = APIRouter()


@router.get("/healthz", tags=["operations"])
async def healthz(service: Service) -> JSONResponse:
    redis_status, workers = "ok", 0
    try:
        client = service.store.client
        await client.ping()
        workers = await client.zcount(WORKERS_KEY, time.time() - ALIVE_WINDOW_SECONDS, "+inf")
    except RedisError as exc:
        redis_status = f"unavailable ({type(exc).__name__})"
    ready = redis_status == "ok" and workers > 0
    body = {"status": "ok" if ready else "unavailable", "redis": redis_status,
            "workers": workers}
    return JSONResponse(body, status_code=200 if ready else 503,
                        headers=None if ready else {"Retry-After": "5"})
