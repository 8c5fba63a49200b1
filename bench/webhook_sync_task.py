"""The synchronous per-task baseline: one Celery task per delivery doing a blocking
`httpx.post`, as a webhook sender is often first written. Run by a real Celery worker
(`celery -A bench.webhook_sync_task worker`) with the project's Celery configuration."""

from __future__ import annotations

import time

import httpx

from tasks.celery_app import create_celery
from tasks.settings import get_settings
from worker.webhooks.signing import signed_headers

settings = get_settings()
app = create_celery(settings)
QUEUE = "bench-webhooks-sync"


@app.task(name="bench_deliver_webhook")  # type: ignore[untyped-decorator]
def deliver(url: str, message_id: str, body: str) -> int:
    data = body.encode()
    headers = signed_headers(message_id, data, settings.webhook_signing_secrets, time.time())
    response = httpx.post(url, content=data, headers=headers, timeout=15)
    response.raise_for_status()
    return response.status_code
