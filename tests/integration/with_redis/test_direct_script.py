"""The worker's direct script calls (tasks/redis/direct_script.py) answer as redis-py's
Script does, and take the long way when the script or the connection is gone."""

from __future__ import annotations

import pytest
import redis

from tasks.redis.direct_script import DirectScript
from tests.support.servers import RedisServer

ECHO = "redis.call('INCR', KEYS[1]); return {KEYS[1], ARGV[1], tonumber(ARGV[2])}"


def test_answers_as_the_script_does(sync_client: redis.Redis) -> None:
    client = sync_client
    script = DirectScript(client, ECHO)
    assert script(keys=["k"], args=[b"v", 7]) == [b"k", b"v", 7]
    assert client.register_script(ECHO)(keys=["k"], args=[b"v", 7]) == [b"k", b"v", 7]
    with pytest.raises(redis.ResponseError):  # the script's own error is the caller's
        DirectScript(client, "return redis.call('NOSUCHCOMMAND')")(keys=[], args=[])


def test_a_flushed_script_or_a_dropped_connection_takes_the_long_way(
        sync_client: redis.Redis) -> None:
    client = sync_client
    script = DirectScript(client, ECHO)
    assert script(keys=["k"], args=["a", 1])[1] == b"a"
    client.script_flush()  # e.g. Redis restarted, or a failover to a replica without it
    assert script(keys=["k"], args=["b", 2])[1] == b"b"
    client.client_kill_filter(_type="normal", skipme=True)  # its connection is gone
    assert script(keys=["k"], args=["c", 3])[1] == b"c"
    assert script(keys=["k"], args=["d", 4])[1] == b"d"  # on a new connection
    assert client.get("k") == b"4"  # each call ran once


def test_a_script_gone_gives_its_connection_back(own_redis: RedisServer) -> None:
    client = redis.Redis.from_url(own_redis.url, max_connections=2)
    for n in range(10):  # a store made per call, as tests and tools do
        assert DirectScript(client, ECHO)(keys=["k"], args=["a", n])[2] == n
    client.close()
