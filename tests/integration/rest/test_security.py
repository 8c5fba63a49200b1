"""API keys and tenants, idempotent submits, rate limits and queue backpressure (REST)."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tasks.redis.keys import tenant_index_key
from tests.support.gateway_log import LogWatch
from tests.support.helpers import wait_for_status
from tests.support.launcher import Launcher, Stack
from tests.support.servers import ROOT, wait_until

ALPHA = "alpha-key-0123456789abcdef"
BETA = "beta-key-0123456789abcdef"


@pytest.fixture(scope="module")
def keyed(module_launch: Launcher) -> Stack:
    return module_launch.stack("keyed-worker", API_KEYS=f"alpha:{ALPHA},beta:{BETA}")


def as_(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_every_call_needs_a_key(keyed: Stack) -> None:
    gateway = keyed.gateway
    with httpx.Client(base_url=gateway.url) as c:
        for method, path in [("POST", "/producer/api/sum"), ("GET", "/producer/api/functions"),
                             ("GET", "/producer/api/wait_and_return"),
                             ("GET", "/producer/api/jobs/x"), ("DELETE", "/producer/api/jobs/x"),
                             ("POST", "/producer/api/jobs")]:
            for headers in ({}, as_("wrong-key-0123456789"), {"X-API-Key": ""},
                            {"Authorization": "Basic YTpi"}):
                r = c.request(method, path, json={"number": 1}, headers=headers)
                assert r.status_code == 401, (method, path, headers, r.text)
                assert r.headers["www-authenticate"] == "Bearer"
                assert "API key" in r.json()["message"]
        assert c.get("/healthz").status_code == 200


@pytest.mark.parametrize("body", [
    b'{"number": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    b'{"number": ' + b"9" * 5000 + b"}",
    b'{"number": "\xff"}',
    b"{not json",
], ids=["nested 1000 deep", "5000-digit integer", "not UTF-8", "malformed"])
def test_the_key_is_checked_before_the_body(
    keyed: Stack, body: bytes,
) -> None:
    """No body is read without a key: whatever it holds, the answer is 401 (the express
    lane's /sum and FastAPI's routes alike)."""
    gateway = keyed.gateway
    watch = LogWatch(gateway)
    with httpx.Client(base_url=gateway.url) as c:
        for path in ("/producer/api/sum", "/producer/api/jobs", "/producer/api/wait_and_return",
                     "/producer/api/webhooks"):
            for headers in ({}, as_("wrong-key-0123456789")):
                r = c.post(path, content=body,
                           headers={"content-type": "application/json", **headers})
                assert r.status_code == 401, (path, headers, r.text)
            r = c.post(path, content=body,
                       headers={"content-type": "application/json", **as_(ALPHA)})
            assert r.status_code == 422, (path, r.text)
    assert watch.errors() == []


def test_tenants_cannot_see_each_others_jobs(
    keyed: Stack,
) -> None:
    gateway = keyed.gateway
    with httpx.Client(base_url=gateway.url) as c:
        r = c.post("/producer/api/sum", json={"number": 10}, headers={"X-API-Key": ALPHA})
        job_id = r.json()["job_id"]
        with httpx.Client(base_url=gateway.url, headers=as_(ALPHA)) as alpha:
            assert wait_for_status(alpha, job_id)["result"] == 55
        for path in (f"/producer/api/jobs/{job_id}", f"/producer/api/sum/{job_id}"):
            assert c.get(path, headers=as_(BETA)).status_code == 404
        assert c.delete(f"/producer/api/jobs/{job_id}", headers=as_(BETA)).status_code == 404
        assert c.get(f"/producer/api/sum/{job_id}", headers=as_(ALPHA)).json()["result"] == 55


def test_keys_stored_in_redis_by_the_cli(
    keyed: Stack,
) -> None:
    gateway, env = keyed.gateway, keyed.env

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "gateway.keys", *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=30, check=True)
        return done.stdout

    out = cli("create", "gamma")
    key = out.strip().splitlines()[-1]
    key_id = out.split()[2]
    assert key.startswith("gwk_") and key_id in cli("list") and key not in cli("list")
    with httpx.Client(base_url=gateway.url) as c:
        assert c.get("/producer/api/functions", headers=as_(key)).status_code == 200
        cli("revoke", key_id)
        wait_until(lambda: c.get("/producer/api/functions", headers=as_(key)).status_code == 401,
                   15, "the revoked key to stop working", interval=0.5)
    with pytest.raises(subprocess.CalledProcessError):
        cli("create", "bad tenant name!")


def test_idempotent_submits(keyed: Stack) -> None:
    gateway, redis_server = keyed.gateway, keyed.redis
    index = redis_server.client()
    with httpx.Client(base_url=gateway.url, headers=as_(ALPHA)) as c:
        before = index.zcard(tenant_index_key("alpha"))
        first = c.post("/producer/api/sum", json={"number": 7},
                       headers={"Idempotency-Key": "order-17"})
        again = c.post("/producer/api/sum", json={"number": 7},
                       headers={"Idempotency-Key": "order-17"})
        assert first.status_code == again.status_code == 200
        assert first.json()["job_id"] == again.json()["job_id"]
        assert index.zcard(tenant_index_key("alpha")) == before + 1  # enqueued once
        other = c.post("/producer/api/sum", json={"number": 8},
                       headers={"Idempotency-Key": "order-17"})
        assert other.status_code == 409 and other.json()["error"] == "CONFLICT"
        generic = c.post("/producer/api/jobs", json={"function": "sum_to_n_job",
                                                     "input": {"number": 7}},
                         headers={"Idempotency-Key": "order-17"})
        assert generic.status_code == 202 and generic.json()["id"] == first.json()["job_id"]
        # The same key is another tenant's own.
        beta = c.post("/producer/api/sum", json={"number": 7},
                      headers={"Idempotency-Key": "order-17", **as_(BETA)})
        assert beta.status_code == 200 and beta.json()["job_id"] != first.json()["job_id"]
        for bad in (b"x" * 256, "bad\u00e9key".encode("latin-1"), b"tab\tkey"):
            r = c.post("/producer/api/sum", json={"number": 7}, headers={"Idempotency-Key": bad})
            assert r.status_code == 422 and "Idempotency-Key" in r.json()["message"]
        assert index.zcard(tenant_index_key("alpha")) == before + 1


def test_rate_limit_answers_429(launch: Launcher) -> None:
    stack = launch.stack(worker=None, RATE_LIMIT_PER_SECOND="0.2", RATE_LIMIT_BURST="3")
    redis_server = stack.redis
    with stack.client() as c:
        codes = [c.post("/producer/api/sum", json={"number": 1}).status_code
                 for _ in range(3)]
        assert codes == [200, 200, 200]
        limited = c.post("/producer/api/sum", json={"number": 1})
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 5
        assert limited.json()["error"] == "RATE_LIMITED"
        assert c.get("/producer/api/functions").status_code == 429  # reads count too
        assert c.get("/healthz").status_code in (200, 503)  # never limited
        assert redis_server.client().zcard(tenant_index_key("public")) == 3


def test_full_queue_answers_503_and_enqueues_nothing(launch: Launcher) -> None:
    """Each queue is counted on its own (tasks/queues.py): a full short queue leaves room
    for long jobs, until theirs is full too."""
    stack = launch.stack(worker=None, MAX_QUEUE_DEPTH="2",  # no worker: the queues only grow
                         CELERY_LONG_QUEUE="celery.long")
    redis_server = stack.redis
    with stack.client() as c:
        for path, body, queue in (("sum", {"number": 1}, "celery"),
                                  ("wait_and_return", {"seconds": 1}, "celery.long")):
            for _ in range(2):
                assert c.post(f"/producer/api/{path}", json=body).status_code == 200
            full = c.post(f"/producer/api/{path}", json=body)
            assert full.status_code == 503 and full.headers["retry-after"].isdigit()
            assert f"queue is full (2 jobs waiting in {queue}," in full.json()["message"]
        client = redis_server.client()
        assert client.llen("celery") == client.llen("celery.long") == 2
        assert client.zcard(tenant_index_key("public")) == 4


def test_cors_allow_list(launch: Launcher) -> None:
    stack = launch.stack(worker=None, CORS_ALLOW_ORIGINS="https://app.example.com")
    with stack.client() as c:
        preflight = {"Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "content-type,x-api-key"}
        ok = c.options("/producer/api/sum",
                       headers={"Origin": "https://app.example.com", **preflight})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://app.example.com"
        other = c.options("/producer/api/sum",
                          headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in other.headers
        # The submit and poll themselves (the express lane hands them to CORS).
        origin = {"Origin": "https://app.example.com"}
        job = c.post("/producer/api/sum", json={"number": 3}, headers=origin)
        assert job.status_code == 200
        assert job.headers["access-control-allow-origin"] == "https://app.example.com"
        poll = c.get(f"/producer/api/sum/{job.json()['job_id']}", headers=origin)
        assert poll.status_code == 200
        assert poll.headers["access-control-allow-origin"] == "https://app.example.com"
