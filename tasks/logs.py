"""Structured logs: one JSON object per line, for the gateway and the worker.

`configure_logging()` sends every record (ours, uvicorn's, Celery's) through one JSON
formatter on stderr. Fields passed with `extra={...}` become keys of the line; the id of
the request (or of the request that submitted the running job) is added from a context
variable. Passwords in URLs are masked as a safety net: no log line may carry a secret.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from contextvars import ContextVar
from typing import Any

import orjson

# The X-Request-ID of the request being served (gateway) or of the request that submitted
# the job being run (worker).
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has: the rest came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName", "color_message",
}
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]+@")


def mask_secrets(text: str) -> str:
    """`redis://:hunter2@host` -> `redis://:***@host`."""
    return _URL_PASSWORD.sub(r"\g<head>***@", text) if "@" in text else text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": mask_secrets(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            line["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc_info"] = mask_secrets(self.formatException(record.exc_info))
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str | int) -> None:
    """JSON lines on stderr for the root logger; uvicorn's loggers propagate to it and its
    access log is replaced by the gateway's own request log."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
    access.disabled = True
