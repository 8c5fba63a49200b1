"""Endpoint secrets at rest and one endpoint per URL, against a real Redis: registration
refuses a tenant's second endpoint for a URL even when racing; `reseal_all` (and the
`python -m gateway.webhook_secrets` command over it) seals plaintext secrets from before,
moves secrets to the first key of a rotation, and never loses a rotation that races it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import redis
import redis.asyncio as aioredis
from cryptography.fernet import Fernet

from tasks.redis.keys import endpoint_key, endpoints_key
from tasks.webhooks.config import new_webhook_secret
from tasks.webhooks.reseal import reseal_all
from tasks.webhooks.secret_box import SealState, SecretBox
from tasks.webhooks.store import WebhookStore
from tests.support.servers import ROOT, RedisServer
from tests.support.webhook_store import TEST_BOX, TEST_KEY, add_endpoint


def stored(client: redis.Redis, endpoint_id: str, field: str) -> str:
    value = client.hget(endpoint_key(endpoint_id), field)
    assert isinstance(value, bytes)
    return value.decode()


async def test_one_endpoint_per_url_and_tenant_even_racing(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    url = "https://hooks.example.com/jobs"
    made = await asyncio.gather(*(store.add_endpoint("acme", url, None, "") for _ in range(12)))
    winners = [m for m in made if m.endpoint is not None]
    assert len(winners) == 1 and winners[0].endpoint is not None
    first = winners[0].endpoint.id
    assert {m.existing_id for m in made if m.endpoint is None} == {first}
    assert sync_client.smembers(endpoints_key("acme")) == {first.encode()}
    # Another tenant, or another URL, is another endpoint; at the most, `full`.
    assert (await store.add_endpoint("other", url, None, "")).endpoint is not None
    assert (await store.add_endpoint("acme", url + "/", None, "", most=2)).endpoint is not None
    assert (await store.add_endpoint("acme", url + "/x", None, "", most=2)).full
    # Deleted, the URL is free again.
    assert await store.delete_endpoint("acme", first)
    assert (await store.add_endpoint("acme", url, None, "")).endpoint is not None


async def test_reseal_seals_plaintext_and_moves_old_key_secrets_to_the_first(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    new_key = Fernet.generate_key().decode()
    sealed_old, secret_a = await add_endpoint(store, "acme", "https://a.example/")
    rotated, _ = await add_endpoint(store, "acme", "https://b.example/")
    secret_b2 = await store.rotate_secret(rotated.id, 3600)
    # An endpoint as a version before encryption at rest wrote it: the secret in clear.
    plain_secret = new_webhook_secret()
    sync_client.hset(endpoint_key("wh_" + "c" * 32), mapping={
        "id": "wh_" + "c" * 32, "url": "https://c.example/", "secret": plain_secret,
        "enabled": "1", "tenant": "acme", "created_at": "1"})

    both = SecretBox([new_key, TEST_KEY])
    client = store.client
    before = await reseal_all(client, both, write=False)
    assert before.states == {SealState.OLDER_KEY: 3, SealState.PLAINTEXT: 1}
    assert before.resealed == 0 and before.endpoints == 3
    done = await reseal_all(client, both)
    assert done.resealed == 3 and not done.unreadable
    after = await reseal_all(client, both)
    assert after.states == {SealState.CURRENT: 4} and after.resealed == 0
    only_new = SecretBox([new_key])
    assert only_new.open(stored(sync_client, sealed_old.id, "secret")) == secret_a
    assert only_new.open(stored(sync_client, rotated.id, "secret")) == secret_b2
    assert only_new.open(stored(sync_client, "wh_" + "c" * 32, "secret")) == plain_secret
    assert TEST_BOX.state(stored(sync_client, sealed_old.id, "secret")) is SealState.UNREADABLE


async def test_reseal_never_undoes_a_rotation_that_lands_between(
    own_redis: RedisServer, store: WebhookStore, sync_client: redis.Redis,
) -> None:
    """Reseal and rotations racing: every secret the API handed out last still opens."""
    endpoints = [(await add_endpoint(store, "acme", f"https://{i}.example/"))[0]
                 for i in range(20)]
    new_key = Fernet.generate_key().decode()
    both = SecretBox([new_key, TEST_KEY])
    rotating = WebhookStore(aioredis.Redis.from_url(own_redis.url), both)
    try:
        results = await asyncio.gather(
            reseal_all(store.client, both),
            *(rotating.rotate_secret(e.id, 3600) for e in endpoints))
    finally:
        await rotating.client.aclose()
    latest = results[1:]
    for endpoint, secret in zip(endpoints, latest, strict=True):
        assert both.open(stored(sync_client, endpoint.id, "secret")) == secret
    await reseal_all(store.client, both)
    assert (await reseal_all(store.client, both, write=False)).states == {
        SealState.CURRENT: 40}


def command(own_redis: RedisServer, keys: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GATEWAY_ENV_FILE": "/dev/null",
           "REDIS_URL": own_redis.url, "WEBHOOK_ENCRYPTION_KEY": keys}
    return subprocess.run([sys.executable, "-m", "gateway.webhook_secrets", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


async def test_command_status_reencrypt_and_generate_key(
    own_redis: RedisServer, store: WebhookStore, sync_client: redis.Redis,
) -> None:
    endpoint, secret = await add_endpoint(store, "acme", "https://a.example/")
    old = TEST_KEY
    new = command(own_redis, "", "generate-key").stdout.strip()
    Fernet(new)  # a valid key
    status = command(own_redis, f"{new},{old}", "status")
    assert status.returncode == 0 and "1 older_key" in status.stdout, status
    done = command(own_redis, f"{new},{old}", "reencrypt")
    assert done.returncode == 0 and "1 endpoints re-encrypted" in done.stdout, done
    assert "1 current" in command(own_redis, new, "status").stdout
    assert SecretBox([new]).open(stored(sync_client, endpoint.id, "secret")) == secret
    # A key list that opens nothing: named as such, exit 1, no key or secret printed.
    wrong = command(own_redis, Fernet.generate_key().decode(), "reencrypt")
    assert wrong.returncode == 1 and endpoint.id in wrong.stderr
    assert secret not in wrong.stdout + wrong.stderr and new not in wrong.stdout + wrong.stderr
