"""A reproduction of the reference producer, for the benchmark only.

As `shared/reference/rest-contract.md` describes it: a synchronous FastAPI `def` route
calls Celery's `.delay()` on a Redis broker with a Redis result backend, and the poll route
asks `AsyncResult`. It has its own Celery app (`bench.reference_celery`): nothing of the
gateway's helps it. NGINX stripped `/producer/api` in the reference, so the paths here are
the stripped ones (`POST /sum`, `GET /sum/{job_id}`).
"""

from __future__ import annotations

from typing import Any

from celery.result import AsyncResult
from fastapi import FastAPI
from pydantic import BaseModel

from bench.reference_celery import celery_app, sum_to_n_job_task

app = FastAPI()


class Number(BaseModel):
    number: int


@app.get("/")
def root() -> dict[str, str]:
    return {"message": "Hello World, this is a route from the producer or job master"}


@app.post("/sum")
def publish_sum(body: Number) -> dict[str, Any]:
    job = sum_to_n_job_task.delay(body.number)
    return {"message": "job published", "job_id": job.id}


@app.get("/sum/{job_id}")
def get_sum(job_id: str) -> dict[str, Any]:
    job = AsyncResult(job_id, app=celery_app)
    if job.ready():
        return {"ready": True, "result": job.result}
    return {"ready": False, "result": None}
