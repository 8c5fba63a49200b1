"""The worker's Celery app: the shared app with the job-store signal hooks connected.

Run it with `python -m worker` (or `celery -A worker.app worker`).
"""

from tasks.celery_app import celery_app as app
from worker import heartbeat, hooks, kombu_compat  # noqa: F401  (connect the signal handlers)

kombu_compat.install()

__all__ = ["app"]
