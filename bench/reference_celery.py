"""The reference's Celery side, reproduced for the benchmark: a plain Celery app on a Redis
broker with a Redis result backend, JSON, default settings, no hooks.

It is also the "bare Celery" that the end-to-end figures compare against
(`celery -A bench.reference_celery worker`). `BENCH_BROKER_URL` names its Redis.
"""

from __future__ import annotations

import os

from celery import Celery

TASK_NAME = "bench.reference_celery.sum_to_n_job"


def sum_to_n_job(number: int) -> int:
    total = 0
    for i in range(1, number + 1):
        total += i
    return total


def make_app(url: str) -> Celery:
    app = Celery("reference", broker=url, backend=url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
    )
    app.task(name=TASK_NAME)(sum_to_n_job)
    return app


celery_app = make_app(os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"))
sum_to_n_job_task = celery_app.tasks[TASK_NAME]
