"""Standard Webhooks headers, signed with the `standardwebhooks` package."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

from standardwebhooks.webhooks import Webhook

USER_AGENT = "job-gateway-webhooks/0.1"


@lru_cache(maxsize=1024)
def _signer(secret: str) -> Webhook:
    return Webhook(secret)  # decodes the secret once, not per message


def signed_headers(
    message_id: str, body: bytes, secrets: Sequence[str], now: float
) -> dict[str, str]:
    """`webhook-id` (the message: the same on every retry and replay), `webhook-timestamp`
    (this attempt's), and `webhook-signature`: one `v1,<base64>` per secret, space-separated
    (two during a secret rotation)."""
    stamp = int(now)
    when = datetime.fromtimestamp(stamp, UTC)
    text = body.decode()
    signature = " ".join(_signer(s).sign(message_id, when, text) for s in secrets)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature,
    }
