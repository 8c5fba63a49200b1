"""Command packing with hiredis (tasks/redis/packing.py): the bytes redis-py would send."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import DataError

from tasks.redis.packing import pack_with_hiredis


@pytest.mark.parametrize("args", [
    ("SET", "k", "é", b"\x00\xff", 7, 2.5, 1e-05, 1763000000.123456, bytearray(b"ba"),
     memoryview(b"mv")),
    ("SCRIPT LOAD", "return 1"),
    (b"CLIENT SETNAME", b"x"),
])
def test_hiredis_packing_sends_the_bytes_redis_py_would(args: tuple[Any, ...]) -> None:
    plain = aioredis.Connection()
    packed = pack_with_hiredis(aioredis.ConnectionPool()).connection_class()
    assert b"".join(packed.pack_command(*args)) == b"".join(
        bytes(chunk) for chunk in plain.pack_command(*args))


def test_hiredis_packing_refuses_what_redis_py_refuses() -> None:
    packed = pack_with_hiredis(aioredis.ConnectionPool()).connection_class()
    with pytest.raises(DataError):
        packed.pack_command("SET", "k", None)
