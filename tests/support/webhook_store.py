"""The webhook store as the in-process tests use it: a box with a key made for this run,
and registration that must succeed."""

from __future__ import annotations

from cryptography.fernet import Fernet

from tasks.webhooks.model import WebhookEndpoint
from tasks.webhooks.secret_box import SecretBox
from tasks.webhooks.store import WebhookStore

TEST_KEY = Fernet.generate_key().decode()
TEST_BOX = SecretBox([TEST_KEY])


async def add_endpoint(store: WebhookStore, tenant: str, url: str,
                       events: tuple[str, ...] | None = None,
                       rate_limit: int | None = None) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its plaintext secret."""
    made = await store.add_endpoint(tenant, url, events, "", rate_limit=rate_limit)
    assert made.endpoint is not None, made
    return made.endpoint, made.secret
