"""Pure logic, and the store's transition rules against a real Redis."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import DataError

from gateway.services.auth import Authenticator, presented_key_in
from gateway.services.errors import InvalidInput
from gateway.services.jobs import check_callback_url, parse_job_id
from tasks.celery_app import create_celery
from tasks.ids import random_hex, random_uuid
from tasks.jobs.catalog import Catalog
from tasks.jobs.functions import sum_to_n_job
from tasks.jobs.record import (
    JobStatus,
    new_record_fields,
    queued_record,
    record_from_event,
    record_from_fields,
)
from tasks.jobs.store import JobStore
from tasks.redis.keys import event_channel, job_key
from tasks.redis.packing import pack_with_hiredis
from tasks.settings import Settings
from tasks.webhooks.ssrf import UrlPolicy
from tests.support.servers import RedisServer


def test_sum_is_exact_loop() -> None:
    assert sum_to_n_job(0) == 0
    assert sum_to_n_job(10) == 55
    assert sum_to_n_job(100_000) == 100_000 * 100_001 // 2


def test_catalog_lists_both_functions() -> None:
    functions = Catalog(Settings(_env_file=None))
    assert set(functions) == {"wait_and_return", "sum_to_n_job"}
    assert functions["sum_to_n_job"].input_schema()["required"] == ["number"]


OLD_STYLE_MODULE = """
from pydantic import BaseModel
from tasks.catalog import job_function

class Nothing(BaseModel):
    pass

@job_function(input_model=Nothing, description="written against the old path")
def old_style() -> int:
    return 1
"""


def test_function_modules_on_the_old_import_path_still_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tasks.catalog is an alias of tasks.jobs.catalog for one release; a catalog holds the
    functions of its own settings' modules only."""
    (tmp_path / "old_style_functions.py").write_text(OLD_STYLE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(DeprecationWarning, match="tasks.jobs.catalog"):
        functions = Catalog(Settings(_env_file=None,
                                     extra_function_modules=["old_style_functions"]))
    assert set(functions) == {"wait_and_return", "sum_to_n_job", "old_style"}
    assert "old_style" not in Catalog(Settings(_env_file=None))


def test_catalog_bounds_come_from_the_settings_it_is_given() -> None:
    """Two catalogs in one process, each with its own settings: nothing read globally."""
    small = Catalog(Settings(_env_file=None, sum_max_number=10, wait_max_seconds=2))
    large = Catalog(Settings(_env_file=None))
    assert small["sum_to_n_job"].input_schema()["properties"]["number"]["maximum"] == 10
    assert large["sum_to_n_job"].input_schema()["properties"]["number"]["maximum"] == 50_000_000
    small["sum_to_n_job"].input_model.model_validate({"number": 10})
    with pytest.raises(ValidationError, match="less than or equal to 10"):
        small["sum_to_n_job"].input_model.model_validate({"number": 11})
    with pytest.raises(ValidationError, match="less than or equal to 2"):
        small["wait_and_return"].input_model.model_validate({"seconds": 2.5})
    assert small["wait_and_return"].policy.hard_time_limit == 12.0  # WAIT_MAX_SECONDS + 10


def test_settings_refuse_visibility_below_longest_job() -> None:
    with pytest.raises(ValidationError, match="CELERY_VISIBILITY_TIMEOUT"):
        Settings(wait_max_seconds=100, celery_visibility_timeout=50)


def test_prefetch_multiplier_setting_reaches_celery() -> None:
    assert create_celery(Settings(_env_file=None)).conf.worker_prefetch_multiplier == 1
    app = create_celery(Settings(_env_file=None, worker_prefetch_multiplier=4))
    assert app.conf.worker_prefetch_multiplier == 4
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        Settings(_env_file=None, worker_prefetch_multiplier=0)


def test_settings_urls() -> None:
    s = Settings(redis_port=7000, redis_url="")
    assert s.effective_redis_url == "redis://127.0.0.1:7000/0"
    assert s.effective_broker_url == s.effective_redis_url and s.broker_is_redis
    amqp = Settings(celery_broker_url="amqp://guest:guest@localhost//")
    assert not amqp.broker_is_redis


URL_POLICY = UrlPolicy.from_settings(Settings(_env_file=None))


@pytest.mark.parametrize("url", ["ftp://x/", "http://", "javascript:alert(1)", "http://h:0x1/",
                                 "https://h:70000/", "x" * 3000])
def test_callback_url_rejected(url: str) -> None:
    with pytest.raises(InvalidInput, match="callback_url"):
        check_callback_url(url, URL_POLICY)


def test_callback_url_accepted() -> None:
    assert check_callback_url("https://hooks.example.com/job?x=1", URL_POLICY) is not None
    assert check_callback_url(None, URL_POLICY) is None


def test_parse_job_id() -> None:
    assert parse_job_id("nope") is None
    job_id = str(uuid.uuid4())
    assert parse_job_id(job_id.upper()) == job_id


def test_record_codec_keeps_big_integers() -> None:
    fields = new_record_fields("id1", "sum_to_n_job", b'{"number": 50000000}', 1.5, None)
    fields["result"] = orjson.dumps(1250000025000000)
    record = record_from_fields(fields)
    assert record.result == 1250000025000000 and record.status is JobStatus.QUEUED
    assert record.to_public()["created_at"].startswith("1970-01-01T00:00:01.5")


@pytest.mark.parametrize("callback", [None, "https://hooks.example.com/x"])
def test_queued_record_is_what_the_stored_fields_decode_to(callback: str | None) -> None:
    fields = new_record_fields("id1", "sum_to_n_job", b'{"number":7}', 2.25, callback, "acme")
    assert record_from_fields(fields) == queued_record(
        "id1", "sum_to_n_job", {"number": 7}, 2.25, callback, "acme")


def test_pooled_random_ids_are_uuid4() -> None:
    ids = [random_uuid() for _ in range(600)]  # past one pool of random bytes
    assert len(set(ids)) == len(ids)
    for text in ids[:5] + ids[-5:]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text
    assert uuid.UUID(hex=random_hex()).version == 4


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    random_uuid()  # the parent now holds a pool the child inherits
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write_end, random_uuid().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read_end, 64).decode() != random_uuid()


def test_transitions_against_real_redis(redis_server: RedisServer) -> None:
    client = redis_server.client()
    store = JobStore(client)
    job_id = str(uuid.uuid4())
    pubsub = client.pubsub()
    pubsub.subscribe(event_channel(job_id))
    pubsub.get_message(timeout=1)

    assert store.transition(job_id, JobStatus.STARTED).previous is None  # no record
    assert not client.exists(job_key(job_id))  # a late event never re-creates a record

    client.hset(job_key(job_id),
                mapping=new_record_fields(job_id, "sum_to_n_job", b"{}", time.time(), None))
    started = store.transition(job_id, JobStatus.STARTED, count_attempt=True)
    assert started.applied and started.previous is JobStatus.QUEUED and started.attempts == 1
    # A job's end is counted by its transition's own call, and only if it applies.
    done = store.transition(job_id, JobStatus.SUCCEEDED, {"result": b"3"}, counters=[
        ("hincrby", "gw:metrics:t", "SUCCEEDED", 1), ("hincrbyfloat", "gw:metrics:t", "s", 0.25)])
    assert done.applied
    late = store.transition(job_id, JobStatus.FAILED, {"error": b'{"type":"X","message":""}'},
                            counters=[("hincrby", "gw:metrics:t", "FAILED", 1)])
    assert not late.applied and late.previous is JobStatus.SUCCEEDED
    assert client.hgetall("gw:metrics:t") == {b"SUCCEEDED": b"1", b"s": b"0.25"}
    record = store.get(job_id)
    assert record is not None
    assert record.status is JobStatus.SUCCEEDED and record.result == 3 and record.error is None

    events = []
    while (msg := pubsub.get_message(timeout=1)) is not None:
        if msg["type"] == "message":
            events.append(record_from_event(msg["data"]).status)
    assert events == [JobStatus.STARTED, JobStatus.SUCCEEDED]  # the refused one is silent


def test_production_needs_real_api_keys() -> None:
    with pytest.raises(ValidationError, match="needs API_KEYS"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production", api_keys="ops:changeme-0123456789abcdef")


async def test_lost_messages_are_pushed_back(fresh_redis: RedisServer) -> None:
    """kombu can lose a message between BRPOP and its unacked record: recover.lua finds
    QUEUED jobs whose message is nowhere and pushes the kept copy back, and only those.
    (A Redis of its own: the session's holds other tests' jobs, which the sweep may look
    at first.)"""
    await _check_pushed_back(fresh_redis)


async def _check_pushed_back(redis_server: RedisServer) -> None:
    import json

    import redis.asyncio as aioredis

    from gateway.services.publish import celery_message
    from tasks.jobs.store import Admission, AsyncJobStore
    from tasks.redis.keys import QUEUED_KEY

    queue = "recover-test"
    sync = redis_server.client()
    sync.delete(queue, "recover-unacked")
    store = AsyncJobStore(aioredis.Redis.from_url(redis_server.url))
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for job_id in ids:
        message = celery_message("sum_to_n_job", job_id, {"number": 1}, queue)
        fields = new_record_fields(job_id, "sum_to_n_job", b'{"number":1}', time.time(), None)
        await store.create(fields, 600, Admission(), (queue, message))
    worker_side = JobStore(sync)
    taken = [sync.rpop(queue), sync.rpop(queue)]  # two taken off the queue ...
    tag = json.loads(taken[1])["properties"]["delivery_tag"]
    sync.hset("recover-unacked", tag, taken[1])  # ... one of them recorded as unacked
    assert worker_side.requeue_lost(older_than=0, unacked_key="recover-unacked") == 1
    assert sync.llen(queue) == 2 and taken[0] in sync.lrange(queue, 0, -1)
    assert worker_side.requeue_lost(older_than=0, unacked_key="recover-unacked") == 0
    started = json.loads(taken[0])["headers"]["id"]
    worker_side.transition(started, JobStatus.STARTED, count_attempt=True)
    assert sync.zscore(QUEUED_KEY, started) is None  # out of the queue: no longer watched
    assert not sync.hexists(job_key(started), "message")
    await store.client.aclose()


@pytest.mark.parametrize(("headers", "key"), [
    ([], None),
    ([(b"x-api-key", b" k1 ")], "k1"),
    ([(b"authorization", b"Bearer k2")], "k2"),
    ([(b"authorization", b"bearer k2")], "k2"),
    ([(b"authorization", b"Basic abc")], None),
    ([(b"authorization", b"Bearer k2"), (b"x-api-key", b"k1")], "k1"),  # X-API-Key first
    ([(b"x-api-key", b"k1"), (b"x-api-key", b"k3")], "k1"),  # the first of a repeated one
    ([(b"content-type", b"application/json")], None),
])
def test_presented_key_in_raw_headers(headers: list[tuple[bytes, bytes]],
                                      key: str | None) -> None:
    assert presented_key_in(headers) == key


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


def test_concurrent_requests_share_one_check_for_stored_keys(redis_server: RedisServer) -> None:
    """When the cached "are keys stored in Redis?" answer expires, the requests of that
    moment wait for one EXISTS, not one each (a burst that used to stall the gateway)."""

    async def burst() -> list[bool]:
        client = aioredis.Redis.from_url(redis_server.url)
        authenticator = Authenticator("", client)
        try:
            return await asyncio.gather(*(authenticator.required() for _ in range(200)))
        finally:
            await client.aclose()

    def exists_calls() -> int:
        stats = redis_server.client().info("commandstats").get("cmdstat_exists", {})
        return int(stats.get("calls", 0))

    before = exists_calls()
    assert asyncio.run(burst()) == [False] * 200
    assert exists_calls() - before == 1
