"""The Redis fast path (gateway/services/publish.py) writes exactly what Celery's
apply_async and send_task write, request-id header included."""

from __future__ import annotations

import base64
import json
from typing import Any

from celery import Celery

from gateway.services.publish import REQUEST_ID_HEADER, celery_message
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


def test_fast_path_request_id_header_matches_send_task(redis_server: RedisServer) -> None:
    app = Celery("probe", broker=redis_server.url)
    app.conf.update(task_serializer="json", task_default_queue="rid-probe")
    job_id = "2f0c7f3e-7d1b-4a8e-9a7e-1d2b3c4d5e6f"
    app.send_task("sum_to_n_job", kwargs={"number": 1}, task_id=job_id,
                  headers={REQUEST_ID_HEADER: "rid-42"})
    written = json.loads(redis_server.client().rpop("rid-probe"))
    ours = json.loads(celery_message("sum_to_n_job", job_id, {"number": 1}, "rid-probe",
                                     request_id="rid-42"))
    assert written["headers"][REQUEST_ID_HEADER] == ours["headers"][REQUEST_ID_HEADER]
    assert json.loads(base64.b64decode(ours["body"]))[1] == {"number": 1}
    without = json.loads(celery_message("sum_to_n_job", job_id, {"number": 1}, "q"))
    assert REQUEST_ID_HEADER not in without["headers"]
