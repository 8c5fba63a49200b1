"""The worker process's composition root: the Celery app with the catalog's tasks and the
signal hooks that drive the job store, the heartbeat and the shutdown grace period.

`python -m worker` runs it (worker/__main__.py); so does `celery -A worker.jobs.app worker`,
and Flower reads the broker from it. The module-level `app` is where the worker process
reads its settings; everything below gets them passed in.
"""

from __future__ import annotations

from celery import Celery

from tasks.celery_app import create_celery
from tasks.jobs.catalog import Catalog, register_tasks
from tasks.settings import Settings, get_settings
from worker.jobs import kombu_compat, observe, tracing  # noqa: F401  (signal receivers)
from worker.jobs.heartbeat import Heartbeat
from worker.jobs.hooks import JobHooks
from worker.jobs.kombu_client_cache import install as install_kombu_client_cache
from worker.jobs.pipelined_acks import install as install_pipelined_acks
from worker.jobs.shutdown import GracefulShutdown
from worker.jobs.worker_run import WorkerRun


def create_worker_app(settings: Settings) -> Celery:
    app = create_celery(settings)
    register_tasks(app, Catalog(settings))
    tracing.install()  # when OTEL_* asks; before the hooks, which then run inside the span
    # Running jobs name this run when lost workers' jobs are handed back (Redis broker).
    run = WorkerRun(tracked=settings.broker_is_redis and settings.worker_lost_after_seconds > 0)
    run.connect()
    hooks = JobHooks(settings, run)
    hooks.connect()
    GracefulShutdown(settings.worker_shutdown_grace_seconds, hooks).connect()
    Heartbeat(settings, run).connect()
    kombu_compat.install()
    install_kombu_client_cache()
    install_pipelined_acks()
    return app


app = create_worker_app(get_settings())

__all__ = ["app", "create_worker_app"]
