"""tasks/redis: the names Lua gets are the names Python uses, each client's outage profile,
and the worker's healthcheck answering within 2 s while Redis is down or hung."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.retry import Retry

from tasks.redis import keys
from tasks.redis.clients import Outage, async_client, client_options, sync_client
from tasks.redis.lua import PRELUDE, load_script
from tasks.settings import Settings
from tests.support.servers import ROOT, RedisServer, stack_env
from worker.jobs.healthcheck import check

LUA_FILES = sorted((ROOT / "tasks").rglob("*.lua"))


def test_prelude_holds_the_python_names() -> None:
    assert PRELUDE.startswith("local NAME = {")
    for name, value in keys.LUA_NAMES.items():
        assert f"{name} = '{value}'" in PRELUDE
    assert load_script("tasks.jobs", "recover.lua").startswith(PRELUDE)


@pytest.mark.parametrize("path", LUA_FILES, ids=lambda p: p.name)
def test_lua_scripts_spell_no_key_name(path: Path) -> None:
    source = path.read_text()
    assert keys.KEY_PREFIX not in source, "a key name belongs in tasks/redis/keys.py"
    used = set(re.findall(r"\bNAME\.(\w+)", source))
    assert used <= set(keys.LUA_NAMES), used - set(keys.LUA_NAMES)


def test_every_lua_file_is_loaded_through_load_script() -> None:
    loaders = "".join(p.read_text() for p in (ROOT / "tasks").rglob("store.py"))
    for path in LUA_FILES:
        assert f'"{path.name}"' in loaders, f"{path} is not loaded by a store"


def _retries(options: dict[str, object]) -> int:
    retry = options["retry"]
    assert isinstance(retry, Retry | AsyncRetry)
    return retry.get_retries()


def test_outage_profiles() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:1/0")
    assert _retries(client_options(settings, Outage.FAIL_FAST)) == 0
    assert _retries(client_options(settings, Outage.RIDE_OUT)) == 25
    assert "retry" not in client_options(settings, Outage.RETRY)  # redis-py's default
    assert client_options(settings, Outage.FAIL_FAST, timeout=1.0)["socket_timeout"] == 1.0
    assert isinstance(async_client(settings, Outage.FAIL_FAST), aioredis.Redis)


def test_fail_fast_client_refused_at_once() -> None:
    port = RedisServer().port  # a free port nothing listens on
    client = sync_client(Settings(redis_url=f"redis://127.0.0.1:{port}/0"), Outage.FAIL_FAST)
    with pytest.raises(redis.ConnectionError):
        client.ping()


@pytest.fixture()
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    with contextlib.suppress(ProcessLookupError):  # a test may have stopped it
        os.kill(server.pid, signal.SIGCONT)
    server.stop()


def test_healthcheck_reads_the_heartbeat(private_redis: RedisServer) -> None:
    settings = Settings(redis_url=private_redis.url)
    assert check(settings, "celery@nobody") == "no recent heartbeat from celery@nobody"
    private_redis.client().zadd(keys.WORKERS_KEY, {"celery@here": time.time()})
    assert check(settings, "celery@here") is None
    env = stack_env(private_redis.url)
    done = subprocess.run([sys.executable, "-m", "worker.jobs.healthcheck", "celery@here"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_healthcheck_unhealthy_within_two_seconds(private_redis: RedisServer) -> None:
    """Redis hung (stopped with SIGSTOP: connections are accepted, nothing answers), then
    gone: either way the answer is "unhealthy" within 2 s, a container healthcheck's budget."""
    settings = Settings(redis_url=private_redis.url)
    os.kill(private_redis.pid, signal.SIGSTOP)
    started = time.monotonic()
    problem = check(settings, "celery@here")
    hung = time.monotonic() - started
    assert problem is not None and problem.startswith("Redis:"), problem
    os.kill(private_redis.pid, signal.SIGCONT)
    private_redis.stop()
    started = time.monotonic()
    problem = check(settings, "celery@here")
    gone = time.monotonic() - started
    assert problem is not None and problem.startswith("Redis:"), problem
    # The bound is the client's own (one try, 1 s timeouts), not the machine's speed.
    assert hung < 2.0 and gone < 2.0, (hung, gone)
