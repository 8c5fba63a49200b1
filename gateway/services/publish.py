"""Publishing a job's Celery message.

On a Redis broker the gateway writes Celery's own wire format (task protocol 2, as kombu's
Redis transport stores it) itself, so the record and the message go to Redis in one atomic
Lua call (tasks/jobs/submit.lua, shared by concurrent submits): one round trip, no blocking
publish in the event loop, and never a record without its message or the reverse. A test
checks that the message equals what `apply_async` writes and that a stock worker runs it.
Other brokers (RabbitMQ) take Celery's generic publish path in a thread.
"""

from __future__ import annotations

import base64
import os
import socket
import uuid
from typing import Any

import orjson

from tasks.ids import random_uuid
from tasks.tracing.context import TRACEPARENT

# Protocol 2 body: [args, kwargs, embed]; the embed part never varies for a plain task.
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
_ORIGIN = f"gateway{os.getpid()}@{socket.gethostname()}"
_REPLY_TO = str(uuid.uuid4())  # like Celery's per-process oid


def redis_queue_key(queue: str) -> str:
    """The list kombu's Redis transport pushes priority-0 messages of `queue` to."""
    return queue


# A message header the worker reads back as `task.request.gw_request_id`: the job's
# transitions are logged with the id of the request that submitted it.
REQUEST_ID_HEADER = "gw_request_id"


def celery_message(
    task_name: str,
    task_id: str,
    kwargs: dict[str, Any],
    queue: str,
    expires: str | None = None,
    request_id: str | None = None,
    traceparent: str | None = None,
) -> bytes:
    """`expires` (ISO 8601): a worker that receives the message later revokes it as expired.
    `traceparent`: the trace the worker's run continues (a header, as Celery's OpenTelemetry
    instrumentation reads it)."""
    body = orjson.dumps([[], kwargs, _EMBED])
    message = {
        "body": base64.b64encode(body).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": task_name,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": expires,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": "()",
            "kwargsrepr": repr(kwargs),
            "origin": _ORIGIN,
            "ignore_result": None,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
            **({REQUEST_ID_HEADER: request_id} if request_id else {}),
            **({TRACEPARENT: traceparent} if traceparent else {}),
        },
        "properties": {
            "correlation_id": task_id,
            "reply_to": _REPLY_TO,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": random_uuid(),
        },
    }
    return orjson.dumps(message)
