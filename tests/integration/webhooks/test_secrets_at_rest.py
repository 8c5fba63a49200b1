"""Endpoint secrets at rest, end to end (a real Redis, Celery worker, gateway, dispatcher,
and a receiver on loopback that verifies with `standardwebhooks`): after registrations and a
rotation, SCAN plus DUMP and the typed read of every key in Redis shows no secret in clear,
and the webhooks verify with the plaintext secrets the API handed out; the encryption key
rotates (new key first, old one second, `reencrypt`, old key dropped) without a message
lost; a secret from before encryption at rest still signs, and `reencrypt` seals it; a key
list that opens nothing leaves the message to retry, not dead-lettered."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
import standardwebhooks
from cryptography.fernet import Fernet

from tasks.redis.keys import endpoint_key, endpoints_key
from tasks.webhooks.config import new_webhook_secret
from tests.support.launcher import Launcher, Stack
from tests.support.servers import ROOT, stack_env, wait_until
from tests.support.webhook_receiver import Received, Receiver

API = "/producer/api"
OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def receiver(module_launch: Launcher) -> Receiver:
    return module_launch.receiver("127.0.0.3")


@pytest.fixture(scope="module")
def stack(module_launch: Launcher, receiver: Receiver) -> Stack:
    return module_launch.stack("secrets-worker", dispatcher=True,
                               WEBHOOK_ALLOWED_NETWORKS="127.0.0.3/32",
                               WEBHOOK_RETRY_SCHEDULE="0,0.2,0.5",
                               WEBHOOK_ENCRYPTION_KEY=OLD_KEY)


@pytest.fixture()
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    stack.replace_dispatcher(WEBHOOK_ENCRYPTION_KEY=OLD_KEY)
    with stack.client() as c:
        yield c


@pytest.fixture()
def register(gateway: httpx.Client, receiver: Receiver
             ) -> Iterator[Callable[..., tuple[str, str, str]]]:
    """Register an endpoint at a fresh path: (id, path, secret); deleted after the test."""
    created: list[str] = []

    def make(via: httpx.Client = gateway) -> tuple[str, str, str]:
        path = f"/{uuid.uuid4().hex[:12]}"
        r = via.post(f"{API}/webhooks", json={"url": receiver.url(path),
                                              "events": ["job.succeeded"]})
        assert r.status_code == 201, r.text
        created.append(r.json()["id"])
        return r.json()["id"], path, r.json()["secret"]

    yield make
    for endpoint_id in created:
        gateway.delete(f"{API}/webhooks/{endpoint_id}")


def finish_a_job(client: httpx.Client) -> None:
    r = client.post(f"{API}/sum", json={"number": 3})
    assert r.status_code == 200, r.text


def arrival(receiver: Receiver, path: str, count: int) -> Received:
    return receiver.wait_count(path, count)[count - 1]


def verifies(message: Received, *secrets: str) -> None:
    for secret in secrets:
        standardwebhooks.Webhook(secret).verify(message.body, message.headers)


def secret_forms(secret: str) -> list[bytes]:
    """Every way a secret could sit in Redis in clear: as given, its base64, its bytes."""
    body = secret.removeprefix("whsec_")
    raw = base64.b64decode(body)
    return [secret.encode(), body.encode(), raw, base64.urlsafe_b64encode(raw), raw.hex().encode()]


def redis_contents(client: redis.Redis) -> dict[bytes, list[bytes]]:
    """Every key (SCAN), with its DUMP and what reading it by its type returns."""
    found: dict[bytes, list[bytes]] = {}
    for key in client.scan_iter(count=1000):
        kind, dump = client.type(key), client.dump(key)
        if kind == b"none" or dump is None:
            continue  # expired since the SCAN (e.g. a rate window: it lives 2 s)
        assert isinstance(kind, bytes) and isinstance(dump, bytes)
        reads: dict[bytes, Callable[[], Any]] = {
            b"hash": lambda k=key: [x for kv in client.hgetall(k).items() for x in kv],
            b"string": lambda k=key: [client.get(k) or b""],
            b"list": lambda k=key: client.lrange(k, 0, -1),
            b"set": lambda k=key: list(client.smembers(k)),
            b"zset": lambda k=key: client.zrange(k, 0, -1),
            b"stream": lambda k=key: [repr(client.execute_command("XRANGE", k, "-", "+"))
                                      .encode()],
        }
        found[key] = [dump, *reads[kind]()]
    return found


def assert_no_secret_in_clear(stack: Stack, secrets: list[str]) -> None:
    contents = redis_contents(stack.redis.client())
    assert any(k.startswith(b"gw:webhook:") for k in contents)  # the endpoints are there
    for key, values in contents.items():
        for value in values:
            for secret in secrets:
                for form in secret_forms(secret):
                    assert form not in value, f"a secret in clear in {key!r}"


def webhook_secrets(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.webhook_secrets", *args],
                          env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=60, check=False)


def test_redis_holds_no_secret_in_clear_and_webhooks_verify(
    stack: Stack, gateway: httpx.Client, receiver: Receiver,
    register: Callable[..., tuple[str, str, str]],
) -> None:
    (_, path_a, secret_a), (b_id, path_b, secret_b) = register(), register()
    finish_a_job(gateway)
    verifies(arrival(receiver, path_a, 1), secret_a)
    verifies(arrival(receiver, path_b, 1), secret_b)
    rotated = gateway.post(f"{API}/webhooks/{b_id}/rotate-secret").json()["secret"]
    finish_a_job(gateway)
    verifies(arrival(receiver, path_a, 2), secret_a)
    verifies(arrival(receiver, path_b, 2), rotated, secret_b)  # both during the grace
    assert_no_secret_in_clear(stack, [secret_a, secret_b, rotated])


def test_encryption_key_rotation_loses_no_message(
    stack: Stack, launch: Launcher, gateway: httpx.Client, receiver: Receiver,
    register: Callable[..., tuple[str, str, str]],
) -> None:
    _, path_old, secret_old = register()  # sealed with the old key
    both = {"WEBHOOK_ENCRYPTION_KEY": f"{NEW_KEY},{OLD_KEY}"}
    # 1. The new key first, the old one second: every process, the dispatcher first.
    stack.replace_dispatcher(**both)
    upgraded = launch.gateway({**stack.env, **both})
    with httpx.Client(base_url=upgraded.url, timeout=10) as new_gateway:
        _, path_new, secret_new = register(new_gateway)  # sealed with the new key
        finish_a_job(new_gateway)
        verifies(arrival(receiver, path_old, 1), secret_old)
        verifies(arrival(receiver, path_new, 1), secret_new)
        # 2. Re-encrypt: everything under the first key, then the old key can go.
        env = stack_env(stack.redis.url, **both)
        assert "older_key" in webhook_secrets(env, "status").stdout
        done = webhook_secrets(env, "reencrypt")
        assert done.returncode == 0, done.stderr
        only_new = stack_env(stack.redis.url, WEBHOOK_ENCRYPTION_KEY=NEW_KEY)
        status = webhook_secrets(only_new, "status")
        assert " 0 older_key, 0 plaintext, 0 unreadable" in status.stdout, status.stdout
        # 3. The old key dropped: still every message signs and verifies.
        stack.replace_dispatcher(WEBHOOK_ENCRYPTION_KEY=NEW_KEY)
        finish_a_job(new_gateway)
        verifies(arrival(receiver, path_old, 2), secret_old)
        verifies(arrival(receiver, path_new, 2), secret_new)
    assert_no_secret_in_clear(stack, [secret_old, secret_new])


def test_plaintext_secret_from_before_still_signs_and_reencrypt_seals_it(
    stack: Stack, gateway: httpx.Client, receiver: Receiver,
) -> None:
    client = stack.redis.client()
    endpoint_id, path, secret = "wh_" + uuid.uuid4().hex, "/before", new_webhook_secret()
    client.hset(endpoint_key(endpoint_id), mapping={  # as a version before this one wrote it
        "id": endpoint_id, "url": receiver.url(path), "events": ",job.succeeded,",
        "description": "", "enabled": "1", "secret": secret, "tenant": "public",
        "created_at": "1700000000.0"})
    client.sadd(endpoints_key("public"), endpoint_id)
    try:
        finish_a_job(gateway)
        verifies(arrival(receiver, path, 1), secret)
        env = stack_env(stack.redis.url, WEBHOOK_ENCRYPTION_KEY=OLD_KEY)
        assert "1 plaintext" in webhook_secrets(env, "status").stdout
        with pytest.raises(AssertionError, match="a secret in clear in b'gw:webhook:"):
            assert_no_secret_in_clear(stack, [secret])  # the check sees one in clear
        assert webhook_secrets(env, "reencrypt").returncode == 0
        assert_no_secret_in_clear(stack, [secret])
        finish_a_job(gateway)
        verifies(arrival(receiver, path, 2), secret)
    finally:
        gateway.delete(f"{API}/webhooks/{endpoint_id}")


def test_a_key_list_that_opens_nothing_retries_not_dead_letters(
    stack: Stack, gateway: httpx.Client, receiver: Receiver,
    register: Callable[..., tuple[str, str, str]],
) -> None:
    _, path, secret = register()
    stack.replace_dispatcher(WEBHOOK_ENCRYPTION_KEY=Fernet.generate_key().decode())
    r = gateway.post(f"{API}/sum", json={"number": 4})
    job_id = r.json()["job_id"]
    found: list[dict[str, Any]] = []

    def attempted() -> bool:
        nonlocal found
        found = gateway.get(f"{API}/jobs/{job_id}/deliveries").json()
        return bool(found) and found[0]["attempt_count"] == 1 and found[0]["status"] == "PENDING"

    wait_until(attempted, 30, "an attempt that could not be signed")
    [delivery] = found
    assert delivery["attempts"][0]["error"] == "secret_unreadable"
    assert receiver.received(path) == []
    # The operator puts the key back: the message goes out (at its retry, or replayed now).
    stack.replace_dispatcher(WEBHOOK_ENCRYPTION_KEY=OLD_KEY)
    assert gateway.post(f"{API}/deliveries/{delivery['id']}/redeliver").status_code == 202
    verifies(arrival(receiver, path, 1), secret)


def test_production_refuses_to_start_without_a_key(stack: Stack) -> None:
    """The gateway and the dispatcher read the same settings, which refuse to load."""
    env = stack_env(stack.redis.url, ENVIRONMENT="production", API_KEYS="ops:k8Jw2N5qT7rV1xZ4",
                    WEBHOOK_SECRET=new_webhook_secret(), WEBHOOK_ENCRYPTION_KEY="")
    for argv in (["-m", "uvicorn", "gateway.app:app", "--port", "0"],
                 ["-m", "worker.dispatcher"]):
        done = subprocess.run([sys.executable, *argv], env=env, capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode != 0, argv
        assert "WEBHOOK_ENCRYPTION_KEY must be set in production" in done.stderr, done.stderr
        assert "generate-key" in done.stderr
