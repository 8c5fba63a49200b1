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
import re
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


def _layout(body: str, task: str, task_id: str, expires: str, kwargsrepr: str,
            queue: str, tag: str) -> dict[str, Any]:
    """The message, as kombu's Redis transport stores a protocol 2 task message."""
    return {
        "body": body,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": task,
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
            "kwargsrepr": kwargsrepr,
            "origin": _ORIGIN,
            "ignore_result": None,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
            _MORE_HEADERS: None,  # the optional headers go here (or nothing)
        },
        "properties": {
            "correlation_id": task_id,
            "reply_to": _REPLY_TO,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": tag,
        },
    }


# The layout serialized once with markers, cut where each message's values go: a message
# is then its few values serialized and joined with the fixed parts, 3.1 µs where
# serializing the whole dictionary each time took 4.6 µs.
_MORE_HEADERS = "@@more@@"
_SLOTS = ("body", "task", "task_id", "expires", "kwargsrepr", "queue", "tag")
_MARKED = orjson.dumps(_layout(*(f"@@{slot}@@" for slot in _SLOTS)))
_PARTS = re.split(rb',"@@(more)@@":null|"@@(\w+)@@"', _MARKED)
_FIXED, _ORDER = _PARTS[::3], [(a or b).decode() for a, b in zip(_PARTS[1::3], _PARTS[2::3],
                                                                 strict=True)]
assert _ORDER == ["body", "task", "task_id", "expires", "task_id", "kwargsrepr", "more",
                  "task_id", "queue", "tag"], _ORDER  # the order celery_message joins in
(_F0, _F1, _F2, _F3, _F4, _F5, _F6, _F7, _F8, _F9, _F10) = _FIXED
# The optional headers' keys, as they follow another header.
_REQUEST_ID_KEY, _TRACEPARENT_KEY = (b"," + orjson.dumps(key) + b":"
                                     for key in (REQUEST_ID_HEADER, TRACEPARENT))


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
    dumps = orjson.dumps
    body = base64.b64encode(dumps([[], kwargs, _EMBED]))
    more = b""
    if request_id:
        more += _REQUEST_ID_KEY + dumps(request_id)
    if traceparent:
        more += _TRACEPARENT_KEY + dumps(traceparent)
    task_id_json = dumps(task_id)
    return b"".join((_F0, b'"', body, b'"', _F1, dumps(task_name), _F2, task_id_json, _F3,
                     dumps(expires), _F4, task_id_json, _F5, dumps(repr(kwargs)), _F6, more,
                     _F7, task_id_json, _F8, dumps(queue), _F9, dumps(random_uuid()), _F10))
