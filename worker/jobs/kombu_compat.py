"""A guard around a kombu 5.7 Redis-transport bug that kills the worker on a broker outage.

When the Redis broker goes away while the worker holds unacknowledged messages, kombu
closes the channel and tries to push those messages back to the queue. By then the
connection object is gone (`transport.client` is None), so building a new connection
pool raises AttributeError, which Celery treats as unrecoverable and the worker exits.

Raising a redis ConnectionError instead is the error Celery already knows: it keeps the
worker alive and reconnects when Redis is back. The messages stay in kombu's "unacked"
hash and are redelivered after CELERY_VISIBILITY_TIMEOUT, like those of a lost worker.
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import redis as kombu_redis

_original_connparams: Any = kombu_redis.Channel._connparams


def _connparams(self: Any, asynchronous: bool = False) -> Any:
    if self.connection is None or self.connection.client is None:
        raise redis.ConnectionError("the broker connection is already closed")
    return _original_connparams(self, asynchronous)


def install() -> None:
    kombu_redis.Channel._connparams = _connparams  # type: ignore[method-assign]
