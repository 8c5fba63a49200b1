"""Webhook delivery end to end: a real Redis, Celery worker, gateway and dispatcher(s), and
real HTTP receivers on loopback.

The gateway accepts loopback URLs (WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8), but the
dispatcher only allows 127.0.0.3 and the receivers' ports: so the receivers on 127.0.0.3
get webhooks, and a URL that passed the gateway yet is refused at send time (localhost,
127.0.0.2, another port, numeric forms of 127.0.0.1) shows the send-time guard: the
listeners behind those URLs must never see a connection.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import standardwebhooks
import svix.webhooks

from tasks.jobs.record import JobStatus, new_record_fields
from tasks.jobs.store import JobStore
from tasks.redis.keys import job_key
from tests.support.arrivals import settled_arrivals
from tests.support.helpers import fresh_path, registered_endpoints, wait_for_status
from tests.support.launcher import Launcher
from tests.support.launcher import Stack as Servers
from tests.support.servers import Gateway, RedisServer, wait_until
from tests.support.webhook_receiver import Received, Receiver, Reply, verify_by_hand

API = "/producer/api"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SCHEDULE = "0,0.2,0.5,1,2"  # five attempts, about 4 s in all


@dataclass
class Stack:
    servers: Servers  # Redis, a worker, the gateway and a dispatcher
    receiver: Receiver  # 127.0.0.3, allowed
    redirect_target: Receiver  # 127.0.0.3, allowed: a followed redirect would reach it
    flaky: Receiver  # 127.0.0.3, allowed: goes down and comes back
    loopback: Receiver  # 127.0.0.1: allowed by the gateway, refused by the dispatcher
    other_address: Receiver  # 127.0.0.2: the same
    other_port: Receiver  # 127.0.0.3 on a port the dispatcher does not allow

    @property
    def redis(self) -> RedisServer:
        return self.servers.redis

    @property
    def gateway(self) -> Gateway:
        return self.servers.gateway


@pytest.fixture(scope="module")
def stack(module_launch: Launcher) -> Stack:
    receivers = [module_launch.receiver(host) for host in (
        "127.0.0.3", "127.0.0.3", "127.0.0.3", "127.0.0.1", "127.0.0.2", "127.0.0.3")]
    dispatcher_only = {
        "WEBHOOK_SECRET": SECRET, "WEBHOOK_RETRY_SCHEDULE": SCHEDULE,
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.3/32",
        "WEBHOOK_ALLOWED_PORTS": ",".join(str(r.port) for r in receivers[:3]),
        "WEBHOOK_MAX_IN_FLIGHT": "20",  # small, so two dispatchers both get work
    }
    servers = module_launch.stack("webhook-worker", dispatcher=dispatcher_only,
                                  WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8")
    return Stack(servers, *receivers)


@pytest.fixture()
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway.url, timeout=10) as c:
        yield c


@pytest.fixture()
def register(client: httpx.Client) -> Iterator[Callable[..., dict[str, Any]]]:
    """Register endpoints for one test; they are deleted after it."""
    with registered_endpoints(client) as make:
        yield make


path = fresh_path


def submit(client: httpx.Client, callback_url: str | None = None, number: int = 10) -> str:
    body: dict[str, Any] = {"number": number}
    if callback_url:
        body["callback_url"] = callback_url
    r = client.post(f"{API}/sum", json=body)
    assert r.status_code == 200, r.text
    job_id: str = r.json()["job_id"]
    return job_id


def deliveries(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    r = client.get(f"{API}/jobs/{job_id}/deliveries")
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


def wait_deliveries(
    client: httpx.Client, job_id: str, check: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 30, what: str = "deliveries",
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def done() -> bool:
        nonlocal found
        found = deliveries(client, job_id)
        return bool(found) and check(found)

    try:
        wait_until(done, timeout, what, interval=0.05)
    except TimeoutError:
        raise AssertionError(f"{what}: {found}") from None
    return found


def settled(status: str) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda found: all(d["status"] == status for d in found)


def all_arrived(stack: Stack, hook: str, timeout: float = 30) -> list[Received]:
    """What the receiver got on `hook`, once no attempt of those messages can still be on
    its way (tests/support/arrivals.py)."""
    return settled_arrivals(stack.redis.client(), stack.receiver, hook, timeout)


def check_timestamp(request: Received) -> None:
    """Each attempt carries its own webhook-timestamp: the second it was sent."""
    stamp = int(request.headers["webhook-timestamp"])
    assert int(request.at) - 1 <= stamp <= int(request.at) + 1, (stamp, request.at)


# --- signing --------------------------------------------------------------------------


def test_callback_is_signed_and_verifies_independently(stack: Stack,
                                                       client: httpx.Client) -> None:
    hook = path()
    job_id = submit(client, stack.receiver.url(hook), number=50_000)
    [request] = stack.receiver.wait_count(hook, 1)
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert re.fullmatch(r"msg_[0-9a-f]{32}", headers["webhook-id"])
    check_timestamp(request)
    envelope = standardwebhooks.Webhook(SECRET).verify(request.body, headers)
    svix.webhooks.Webhook(SECRET).verify(request.body, headers)
    assert verify_by_hand(SECRET, headers, request.body)
    assert envelope["type"] == "job.succeeded"
    data = envelope["data"]
    assert data["id"] == job_id and data["status"] == "SUCCEEDED"
    assert data["result"] == 50_000 * 50_001 // 2 and data["input"] == {"number": 50_000}
    assert data["attempts"] == 1 and data["finished_at"] and data["error"] is None
    [delivery] = wait_deliveries(client, job_id, settled("SUCCEEDED"))
    assert delivery["id"] == headers["webhook-id"] and delivery["endpoint_id"] is None
    assert delivery["attempts"][0]["status_code"] == 200


def test_registered_endpoint_signs_with_its_own_secret_and_both_during_rotation(
    stack: Stack, client: httpx.Client, register: Callable[..., dict[str, Any]],
) -> None:
    hook = path()
    endpoint = register(stack.receiver.url(hook), events=["job.succeeded"])
    old_secret = endpoint["secret"]
    submit(client)
    [first] = stack.receiver.wait_count(hook, 1)
    standardwebhooks.Webhook(old_secret).verify(first.body, first.headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(first.body, first.headers)

    new_secret = client.post(f"{API}/webhooks/{endpoint['id']}/rotate-secret").json()["secret"]
    submit(client)
    second = stack.receiver.wait_count(hook, 2)[1]
    assert len(second.headers["webhook-signature"].split(" ")) == 2
    for secret in (old_secret, new_secret):
        standardwebhooks.Webhook(secret).verify(second.body, second.headers)
        svix.webhooks.Webhook(secret).verify(second.body, second.headers)


# --- retries --------------------------------------------------------------------------


def test_500_twice_then_200_is_one_message_in_three_attempts(stack: Stack,
                                                             client: httpx.Client) -> None:
    hook = path()
    stack.receiver.script(hook, Reply(500, body=b"oops"), Reply(503))
    job_id = submit(client, stack.receiver.url(hook))
    requests = stack.receiver.wait_count(hook, 3)
    assert len({r.webhook_id for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    for request in requests:
        check_timestamp(request)
        standardwebhooks.Webhook(SECRET).verify(request.body, request.headers)
    assert [int(r.headers["webhook-timestamp"]) for r in requests] == sorted(
        int(r.headers["webhook-timestamp"]) for r in requests)
    [delivery] = wait_deliveries(client, job_id, settled("SUCCEEDED"))
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    assert [a["error"] for a in delivery["attempts"]] == ["server_error", "server_error", None]
    assert delivery["attempts"][0]["response_body"] == "oops"
    assert delivery["attempt_count"] == 3 and delivery["id"] == requests[0].webhook_id
    assert len(all_arrived(stack, hook)) == 3  # nothing more after the success


def test_429_retry_after_is_honoured(stack: Stack, client: httpx.Client) -> None:
    hook = path()
    stack.receiver.script(hook, Reply(429, headers={"Retry-After": "2"}))
    job_id = submit(client, stack.receiver.url(hook))
    first, second = stack.receiver.wait_count(hook, 2)
    assert second.at - first.at >= 1.9  # the schedule alone would retry after ~0.2 s
    [delivery] = wait_deliveries(client, job_id, settled("SUCCEEDED"))
    assert [a["status_code"] for a in delivery["attempts"]] == [429, 200]


def test_receiver_down_then_back(stack: Stack, client: httpx.Client) -> None:
    hook = path()
    stack.flaky.stop()
    try:
        job_id = submit(client, stack.flaky.url(hook))
        wait_deliveries(client, job_id, lambda found: found[0]["attempt_count"] >= 1,
                        what="a failed attempt")
    finally:
        stack.flaky.start()
    [request] = stack.flaky.wait_count(hook, 1)
    [delivery] = wait_deliveries(client, job_id, settled("SUCCEEDED"))
    assert delivery["attempts"][0]["error"] == "connect_error"
    assert delivery["attempts"][0]["status_code"] is None
    assert delivery["attempts"][-1]["status_code"] == 200
    assert request.webhook_id == delivery["id"]


def test_retries_exhausted_dead_letter_then_replay(stack: Stack, client: httpx.Client) -> None:
    hook = path()
    stack.receiver.script(hook, *[Reply(503)] * 5)
    job_id = submit(client, stack.receiver.url(hook))
    [delivery] = wait_deliveries(client, job_id, settled("DEAD_LETTERED"))
    assert delivery["attempt_count"] == 5 and delivery["last_error"] == "server_error"
    assert len(stack.receiver.received(hook)) == 5
    r = client.post(f"{API}/deliveries/{delivery['id']}/redeliver")
    assert r.status_code == 202, r.text
    requests = stack.receiver.wait_count(hook, 6)
    assert {q.webhook_id for q in requests} == {delivery["id"]}
    assert requests[5].body == requests[0].body
    check_timestamp(requests[5])
    [replayed] = wait_deliveries(client, job_id, settled("SUCCEEDED"))
    assert replayed["attempt_count"] == 6


def test_client_error_is_not_retried_and_replay_sends_the_same_message(
    stack: Stack, client: httpx.Client,
) -> None:
    hook = path()
    stack.receiver.script(hook, Reply(400, body=b"x" * 5000))
    job_id = submit(client, stack.receiver.url(hook))
    [delivery] = wait_deliveries(client, job_id, settled("DEAD_LETTERED"))
    assert delivery["attempt_count"] == 1 and delivery["last_error"] == "client_error"
    assert delivery["attempts"][0]["response_body"] == "x" * 1024  # capped at 1 KiB
    r = client.post(f"{API}/deliveries/{delivery['id']}/redeliver")
    assert r.status_code == 202 and r.json()["id"] == delivery["id"]
    first, second = stack.receiver.wait_count(hook, 2)
    assert first.webhook_id == second.webhook_id and first.body == second.body
    wait_deliveries(client, job_id, settled("SUCCEEDED"))
    # A delivered message can be replayed too.
    assert client.post(f"{API}/deliveries/{delivery['id']}/redeliver").status_code == 202
    assert stack.receiver.wait_count(hook, 3)[2].webhook_id == delivery["id"]


def test_redirect_is_not_followed(stack: Stack, client: httpx.Client) -> None:
    hook = path()
    target = stack.redirect_target.url(path())
    stack.receiver.script(hook, Reply(307, headers={"Location": target}),
                          Reply(302, headers={"Location": target}))
    job_id = submit(client, stack.receiver.url(hook))
    [delivery] = wait_deliveries(client, job_id, settled("DEAD_LETTERED"))
    assert delivery["attempts"][0]["status_code"] == 307
    assert delivery["last_error"] == "redirect"
    assert stack.redirect_target.connections == 0 and stack.redirect_target.received() == []


# --- 410 Gone --------------------------------------------------------------------------


def test_410_disables_the_endpoint_keeps_its_messages_and_enable_sends_them(
    stack: Stack, client: httpx.Client, register: Callable[..., dict[str, Any]],
) -> None:
    hook = path()
    stack.receiver.script(hook, Reply(410))
    endpoint = register(stack.receiver.url(hook))
    first_job = submit(client)
    stack.receiver.wait_count(hook, 1)
    [held] = wait_deliveries(client, first_job, settled("PAUSED"))
    shown = client.get(f"{API}/webhooks/{endpoint['id']}").json()
    assert shown["enabled"] is False and "410" in shown["disabled_reason"]
    assert client.post(f"{API}/deliveries/{held['id']}/redeliver").status_code == 409

    second_job = submit(client)  # while disabled: kept, not sent, not dropped
    [kept] = wait_deliveries(client, second_job, settled("PAUSED"))
    assert kept["attempt_count"] == 0 and len(stack.receiver.received(hook)) == 1

    r = client.post(f"{API}/webhooks/{endpoint['id']}/enable")
    assert r.status_code == 200 and r.json()["resumed_deliveries"] == 2
    assert r.json()["enabled"] is True
    requests = stack.receiver.wait_count(hook, 3)
    assert Counter(q.webhook_id for q in requests) == {held["id"]: 2, kept["id"]: 1}
    for job_id in (first_job, second_job):
        wait_deliveries(client, job_id, settled("SUCCEEDED"))


# --- SSRF at send time ---------------------------------------------------------------


def test_refused_at_send_time_never_connects(
    stack: Stack, client: httpx.Client, register: Callable[..., dict[str, Any]],
) -> None:
    """URLs the gateway accepted (its allowlist is 127.0.0.0/8) that the dispatcher refuses
    (its allowlist is 127.0.0.3/32 and some ports): `localhost`, which resolves to
    127.0.0.1; literal 127.0.0.1 in mapped and decimal form; 127.0.0.2; a refused port."""
    port = stack.loopback.port
    urls = [
        f"http://localhost:{port}/a",
        f"http://[::ffff:127.0.0.1]:{port}/b",
        f"http://2130706433:{port}/c",
        f"http://0x7f.1:{port}/d",
        stack.other_address.url("/e"),
        stack.other_port.url("/f"),
    ]
    endpoint = register(f"http://localhost:{port}/registered")
    jobs = [submit(client, url) for url in urls]
    for job_id in jobs:
        found = wait_deliveries(client, job_id, settled("DEAD_LETTERED"), what="blocked")
        assert len(found) == 2  # its callback and the registered endpoint
        for delivery in found:
            [attempt] = delivery["attempts"]
            assert attempt["error"] == "blocked" and attempt["status_code"] is None
            assert "refused" in attempt["detail"] or "not allowed" in attempt["detail"]
        assert {d["endpoint_id"] for d in found} == {None, endpoint["id"]}
    for listener in (stack.loopback, stack.other_address, stack.other_port):
        assert listener.connections == 0 and listener.received() == []


def test_submit_time_refusals_still_apply(stack: Stack, client: httpx.Client) -> None:
    for url in ("http://169.254.169.254/", "http://2852039166/", "http://[::1]:8080/",
                "http://10.0.0.1/"):
        r = client.post(f"{API}/sum", json={"number": 1, "callback_url": url})
        assert r.status_code == 422 and r.json()["error"] == "BAD_USER_INPUT", url


# --- exactly once, and several dispatchers ---------------------------------------------


def test_two_dispatchers_never_send_an_attempt_twice(stack: Stack, launch: Launcher) -> None:
    """Many deliveries released at once to two dispatchers; each message is answered 429
    once and then 200, so each must arrive exactly twice (two attempts, never doubled).
    (A 429 is retried like a 500 but, unlike 500s in a row, never opens the breaker, which
    would hold the rest for its cool-down: this test is about leases, not the breaker.)"""
    hook = path()
    stack.receiver.script_each_message(hook, Reply(429))
    second = launch.dispatcher(stack.servers.dispatcher_env, name="dispatcher-2")
    count = 300
    try:
        client = stack.redis.client()
        jobs = JobStore(client)
        job_ids = [str(uuid.uuid4()) for _ in range(count)]
        with client.pipeline() as pipe:
            for job_id in job_ids:
                pipe.hset(job_key(job_id), mapping=new_record_fields(
                    job_id, "sum_to_n_job", b'{"number": 1}', time.time(),
                    stack.receiver.url(hook)))
                pipe.expire(job_key(job_id), 3600)
            pipe.execute()
        for job_id in job_ids:  # the worker's own terminal transition
            jobs.transition(job_id, JobStatus.SUCCEEDED, {"result": b"1"})
        stack.receiver.wait_count(hook, 2 * count, timeout=60)
        requests = all_arrived(stack, hook)
        per_message = Counter(r.webhook_id for r in requests)
        assert len(per_message) == count
        assert set(per_message.values()) == {2}, per_message.most_common(3)
    finally:
        second.stop()
    attempts = re.findall(r"stopped after (\d+) attempts", second.log_tail())
    assert attempts and int(attempts[-1]) > 0  # the second dispatcher really took part
    # The dispatcher logs through tasks.logs like every other process: one JSON object a line.
    lines = second.log_path.read_text().splitlines()
    assert lines and all(isinstance(json.loads(line), dict) for line in lines), lines[:5]


def test_cancel_racing_completion_sends_one_message_per_job(stack: Stack,
                                                            client: httpx.Client) -> None:
    """Cancel each job about when it ends: whichever terminal status wins, the job gets
    exactly one message, of that event."""
    hook = path()
    racing = []
    for _ in range(8):
        r = client.post(f"{API}/wait_and_return",
                        json={"seconds": 0.15, "callback_url": stack.receiver.url(hook)})
        job_id = r.json()["job_id"]
        wait_for_status(client, job_id, {"STARTED", "SUCCEEDED"})
        time.sleep(0.14)
        client.delete(f"{API}/jobs/{job_id}")
        racing.append(job_id)
    for job_id in racing:
        status = wait_for_status(client, job_id)["status"]
        [delivery] = wait_deliveries(client, job_id, settled("SUCCEEDED"))
        assert delivery["event"] == f"job.{status.lower()}"
    stack.receiver.wait_count(hook, len(racing))
    per_message = Counter(r.webhook_id for r in all_arrived(stack, hook))
    assert len(per_message) == len(racing) and set(per_message.values()) == {1}
