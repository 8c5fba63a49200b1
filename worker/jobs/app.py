"""The worker's Celery app: the shared app with its signal hooks connected (the job store,
the heartbeat, the shutdown grace period).

Run it with `python -m worker` (or `celery -A worker.jobs.app worker`).
"""

from tasks.celery_app import celery_app as app
from worker.jobs import (  # noqa: F401  (connect the signal handlers)
    heartbeat,
    hooks,
    kombu_compat,
    shutdown,
)
from worker.jobs.kombu_client_cache import install as install_kombu_client_cache

kombu_compat.install()
install_kombu_client_cache()

__all__ = ["app"]
