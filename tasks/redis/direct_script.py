"""A Lua script called over a connection of its own: the worker's hot path.

The worker makes two transition calls per job (tasks/jobs/store.py). Through redis-py's
`Script.__call__`, one call of a trivial 20-argument script cost about 180 µs against about
105 µs for the same EVALSHA packed by hiredis and sent on a connection held by the caller
(5,000 calls each, loopback Redis, a 2-core machine, redis-py 8.2): the rest is redis-py's
command layers (an encoder call per argument, the pool's checkout and release, the retry
wrapper, its observability hooks). Here a call is one hiredis pack, one send and one read
on a connection it keeps checked out of the client's pool.

Anything but the script's own answer (or its own error) drops that connection and makes
the call again through the client's `Script`, whose retry policy rides out an outage and
follows a Sentinel failover (tasks/redis/clients.py); the next call takes a new
connection. That second try is what redis-py's own retry would do after a lost reply.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import Any

import redis
from redis.connection import Connection
from redis.exceptions import NoScriptError, ReadOnlyError

from tasks.redis.packing import pack

# A reply that says this connection no longer reaches a usable primary: go the long way.
_RECONNECT = (redis.ConnectionError, redis.TimeoutError, ReadOnlyError, NoScriptError, OSError)


class DirectScript:
    """`register_script`'s twin for a process's frequent calls. The connection goes back
    to the pool when the script object goes (a store made for one call, as tests do)."""

    def __init__(self, client: redis.Redis, source: str) -> None:
        self._script = client.register_script(source)
        self._pool = client.connection_pool
        self._lock = threading.Lock()  # one call at a time on the connection
        self._connection: Connection | None = None
        self._release: weakref.finalize[Any, Any] | None = None

    def __call__(self, keys: Sequence[str], args: Sequence[str | bytes | int]) -> Any:
        with self._lock:
            connection = self._connection
            if connection is None:
                connection = self._connection = self._pool.get_connection()
                self._release = weakref.finalize(self, self._pool.release, connection)
            try:
                packed = pack("EVALSHA", self._script.sha, len(keys), *keys, *args)
                connection.send_packed_command([packed])  # type: ignore[no-untyped-call]
                return connection.read_response()
            except _RECONNECT:
                self._drop(connection)
        return self._script(keys=keys, args=args)  # loads the script if Redis lost it

    def _drop(self, connection: Connection) -> None:
        self._connection = None
        if self._release is not None:
            self._release.detach()
        connection.disconnect()  # type: ignore[no-untyped-call]
        self._pool.release(connection)
