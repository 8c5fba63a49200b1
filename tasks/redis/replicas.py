"""A script's writes, confirmed by replicas: the script and Redis `WAIT` in one round trip.

WAIT counts the replicas that have every write made so far *on the connection it is sent
on*, so it must follow the script on the script's own connection: a client's pool could
give a separate WAIT another connection, which would confirm nothing. A pipeline (not a
transaction: WAIT is refused inside MULTI) sends both on one connection.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError


async def run_and_wait(client: aioredis.Redis, script: AsyncScript, keys: list[Any],
                       args: list[Any], replicas: int, timeout_ms: int) -> tuple[Any, int]:
    """The script's reply and how many replicas confirmed its writes within `timeout_ms`.
    A primary that does not know the script (a replica promoted by a failover starts with
    an empty script cache) is sent it, and the call made again."""
    for _ in range(2):
        async with client.pipeline(transaction=False) as pipe:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
            pipe.execute_command("WAIT", replicas, timeout_ms)
            reply, acked = await pipe.execute(raise_on_error=False)
        if isinstance(reply, NoScriptError):
            script.sha = await client.script_load(script.script)
            continue
        if isinstance(reply, Exception):
            raise reply
        if isinstance(acked, Exception):
            raise acked
        return reply, int(acked)
    raise NoScriptError("the script was loaded but is still unknown to this Redis")
