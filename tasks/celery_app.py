"""The Celery app's configuration, for both sides: the gateway publishes with it (and
revokes), the worker runs the catalog's tasks on it (worker/jobs/app.py)."""

from __future__ import annotations

from celery import Celery

from tasks.redis.sentinel import transport_options
from tasks.settings import Settings


def create_celery(settings: Settings) -> Celery:
    # The tasks are the catalog's (tasks/jobs/catalog.py register_tasks), not `include`.
    app = Celery("gateway", broker=settings.effective_broker_url)
    # Behind Sentinel the broker URL is kombu's sentinel:// list (tasks/settings.py), and the
    # transport asks for the primary by name: again after a failover, when Celery reconnects.
    broker_sentinel = (transport_options(settings)
                       if settings.effective_broker_url.startswith("sentinel://") else {})
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_backend=settings.celery_result_backend or None,
        # Results live in the job store; a result backend is only kept when configured.
        task_ignore_result=not settings.celery_result_backend,
        task_default_queue=settings.celery_queue,
        # A job is acknowledged only after it ran, so a lost worker's job runs again;
        # retry_on_worker_lost (Celery 5.7) bounds that by max_retries instead of looping.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_retry_on_worker_lost=True,
        # `python -m worker` gives each queue's worker its own (tasks/queues.py); a worker
        # started otherwise may consume the long queue too: the lowest, safe for long jobs.
        worker_prefetch_multiplier=min(map(settings.prefetch_multiplier,
                                           settings.queues.values())),
        worker_send_task_events=settings.worker_task_events,  # Flower's live view
        task_send_sent_event=False,
        broker_connection_retry_on_startup=True,
        broker_connection_retry=True,
        broker_connection_max_retries=None,
        broker_transport_options={
            "visibility_timeout": settings.celery_visibility_timeout,
            # Sweep for messages of lost workers every 5 s (default: every ~100 s).
            "unacked_restore_interval": 5,
            "unacked_restore_throttle": 1,
            "socket_timeout": settings.redis_timeout_seconds * 5,
            "socket_connect_timeout": settings.redis_timeout_seconds,
            **broker_sentinel,
        },
        result_backend_transport_options=(
            transport_options(settings)
            if settings.celery_result_backend.startswith("sentinel://") else {}),
        broker_heartbeat=0,
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return app

