"""kombu's Redis transport builds a new redis-py client object for every publish and ack
(`Channel.conn_or_acquire`); building one (its response-callback table) costs more CPU than
the Redis command itself. Reuse one client per channel and connection pool instead."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis

_ATTR = "_gateway_sync_client"


@contextmanager
def _conn_or_acquire(self: Any, client: Any = None) -> Iterator[Any]:
    if client:
        yield client
        return
    pool = self.pool
    cached = self.__dict__.get(_ATTR)
    if cached is None or cached[0] is not pool:
        cached = (pool, self._create_client())
        self.__dict__[_ATTR] = cached
    yield cached[1]


def install() -> None:
    kombu_redis.Channel.conn_or_acquire = _conn_or_acquire  # type: ignore[method-assign]
