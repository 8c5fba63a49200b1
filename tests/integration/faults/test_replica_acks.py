"""REDIS_MIN_REPLICA_ACKS=1 on a primary with no replica, then with one (issue 16): every
submit face answers 503 with Retry-After and the job's id within the bounded wait, never
200; the job is on the primary (it may run); a retry with the same Idempotency-Key names
the same job, and is answered once a replica has it. The replica has every accepted job
the moment its answer arrives."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tasks.redis.keys import job_key
from tests.support.graphql_helpers import SUBMIT_SUM, only_error, post
from tests.support.launcher import Launcher
from tests.support.servers import RedisServer, wait_until

API = "/producer/api"
TIMEOUT_SECONDS = 1.0  # REDIS_TIMEOUT_SECONDS: WAIT waits half of it


def refused_job(r: httpx.Response, started: float) -> str:
    """A 503 for want of replicas, in time; the job id it names."""
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"].isdigit()
    body: dict[str, Any] = r.json()
    assert body["error"] == "UNAVAILABLE" and "replica" in body["message"], body
    assert time.monotonic() - started < TIMEOUT_SECONDS + 0.5
    job_id: str = body["job_id"]
    return job_id


def test_submits_wait_for_a_replica(launch: Launcher) -> None:
    primary = launch.redis()
    stack = launch.stack(None, redis=primary, REDIS_MIN_REPLICA_ACKS="1",
                         REDIS_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS))
    store = primary.client()
    key = {"Idempotency-Key": "order-42"}
    with stack.client() as c:
        started = time.monotonic()
        express = refused_job(c.post(f"{API}/sum", json={"number": 3}, headers=key), started)
        started = time.monotonic()
        routed = refused_job(c.post(f"{API}/jobs", json={
            "function": "sum_to_n_job", "input": {"number": 4}}), started)
        started = time.monotonic()
        error = only_error(post(c, SUBMIT_SUM, {"n": 5}))
        assert error["extensions"]["code"] == "UNAVAILABLE", error
        assert time.monotonic() - started < TIMEOUT_SECONDS + 0.5
        graphql = error["extensions"]["jobId"]
        for job_id in (express, routed, graphql):  # on the primary, QUEUED: it may run
            assert store.hget(job_key(job_id), "status") == b"QUEUED"
        started = time.monotonic()  # the same key again: the same job, still unconfirmed
        assert refused_job(c.post(f"{API}/sum", json={"number": 3}, headers=key),
                           started) == express

        replica = launch.adopt(RedisServer(extra=(
            "--replicaof", "127.0.0.1", str(primary.port),
            "--repl-diskless-sync-delay", "0"))).start()
        # WAIT, the gateway's own readiness: the replica reports its link up before the
        # primary counts it (at its first ACK after the load), so its link is not enough.
        wait_until(lambda: store.wait(1, 200) >= 1, 20, "the primary counting the replica")
        again = c.post(f"{API}/sum", json={"number": 3}, headers=key)
        assert again.status_code == 200 and again.json()["job_id"] == express
        fresh = c.post(f"{API}/sum", json={"number": 6})
        assert fresh.status_code == 200, fresh.text
        assert replica.client().hget(job_key(fresh.json()["job_id"]), "status") == b"QUEUED"


def test_unconfirmed_job_is_withdrawn_before_another_broker_gets_it(launch: Launcher) -> None:
    """With another broker (RabbitMQ) the message is published after the record is written:
    a record no replica confirmed is removed again instead, and nothing is published (no
    broker answers here, and none is asked)."""
    primary = launch.redis()
    stack = launch.stack(None, redis=primary, REDIS_MIN_REPLICA_ACKS="1",
                         REDIS_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS), MAX_QUEUE_DEPTH="0",
                         CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:1//")
    with stack.client() as c:
        started = time.monotonic()
        r = c.post(f"{API}/sum", json={"number": 3}, headers={"Idempotency-Key": "k-1"})
        job_id = refused_job(r, started)
        assert "withdrawn" in r.json()["message"]
        assert not primary.client().exists(job_key(job_id))
        assert c.get(f"{API}/jobs/{job_id}").status_code == 404
