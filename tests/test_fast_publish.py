"""The Redis fast path writes exactly what Celery's apply_async writes."""

from __future__ import annotations

import base64
import json
from typing import Any

from celery import Celery

from gateway.services.publish import celery_message
from tests.support.servers import RedisServer

VARYING = {("headers", "origin"), ("properties", "delivery_tag"), ("properties", "reply_to")}


def strip(message: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(message))
    for section, key in VARYING:
        out[section].pop(key)
    out["body"] = json.loads(base64.b64decode(out.pop("body")))
    return out


def test_message_matches_apply_async(redis_server: RedisServer) -> None:
    app = Celery("probe", broker=redis_server.url)
    app.conf.update(task_serializer="json", task_default_queue="fast-path-probe")
    job_id = "0c8f6f61-5e0d-4f39-9d2b-6d0b9c5a1c11"
    kwargs = {"number": 1250000025000000}
    app.send_task("sum_to_n_job", kwargs=kwargs, task_id=job_id)
    client = redis_server.client()
    celery_written = json.loads(client.rpop("fast-path-probe"))
    ours = json.loads(celery_message("sum_to_n_job", job_id, kwargs, "fast-path-probe"))
    assert strip(ours) == strip(celery_written)
    assert ours["properties"]["delivery_tag"] != celery_written["properties"]["delivery_tag"]
