"""Commands packed by hiredis (C): on asyncio connections, and for the worker's own sends
(`pack`: tasks/redis/direct_script.py, worker/jobs/pipelined_acks.py).

redis-py's synchronous connections pack commands with hiredis when it is installed; its
asyncio connections always use the pure-Python packer, which cost the gateway's submit
path about a tenth of its CPU (a batched submit script carries ~25 arguments per job).
"""

from __future__ import annotations

from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.exceptions import DataError


def pack(*args: str | bytes | int | float) -> bytes:
    """One command in Redis's protocol."""
    # hiredis's stub types the command as a 1-tuple; it takes any length.
    packed: bytes = hiredis.pack_command(args)  # type: ignore[arg-type]
    return packed


class HiredisPacking:
    """Mixed in before an asyncio Connection class: the same bytes, packed in C."""

    def pack_command(self, *args: Any) -> list[bytes]:
        # As redis-py: a command name with spaces ("SCRIPT LOAD") is several arguments.
        if isinstance(args[0], str):
            args = (*args[0].encode().split(), *args[1:])
        elif b" " in args[0]:
            args = (*args[0].split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]
        except TypeError:
            pass
        try:  # the rare bytearray or memoryview argument, as bytes
            return [hiredis.pack_command(tuple(  # type: ignore[arg-type]
                bytes(a) if isinstance(a, bytearray | memoryview) else a for a in args))]
        except TypeError as exc:
            raise DataError(str(exc)) from exc


def pack_with_hiredis(pool: aioredis.ConnectionPool) -> aioredis.ConnectionPool:
    """Make the pool's connections (plain, TLS or Unix socket) pack with hiredis."""
    base = pool.connection_class
    if not issubclass(base, HiredisPacking):
        pool.connection_class = type(f"Hiredis{base.__name__}", (HiredisPacking, base), {})
    return pool
