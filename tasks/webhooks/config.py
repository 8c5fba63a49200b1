"""Parsing and checking of the webhook settings that are more than a number: signing secrets
and the retry schedule. Pure functions, used by the Settings validators."""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix, not a secret)
KEYGEN_COMMAND = (
    'python -c "import secrets,base64;'
    "print('whsec_'+base64.b64encode(secrets.token_bytes(32)).decode())\"")
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 24, 64  # the Standard Webhooks spec: 24 to 64 bytes
MAX_RETRY_STEPS = 50

# Signs per-job callbacks when WEBHOOK_SECRET is empty, outside production only. It is
# derived from a public string, so anyone can forge it: the dispatcher logs a warning.
DEVELOPMENT_WEBHOOK_SECRET = SECRET_PREFIX + base64.b64encode(
    hashlib.sha256(b"job-gateway development webhook secret: not for production").digest()
).decode()


def new_webhook_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def check_webhook_secret(value: str) -> None:
    """A signing secret is `whsec_` + the base64 of 24 to 64 random bytes."""
    if not value.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX!r}; "
                         f"generate one with: {KEYGEN_COMMAND}")
    try:
        key = base64.b64decode(value[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is whsec_ followed by base64; "
                         f"generate one with: {KEYGEN_COMMAND}") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(f"a webhook secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} "
                         f"bytes (got {len(key)}); generate one with: {KEYGEN_COMMAND}")


def parse_retry_schedule(text: str) -> tuple[float, ...]:
    """`0,5,30,...`: the delay in seconds before each attempt, the first counted from the
    event and each later one from the previous attempt's failure. After the last, the
    delivery is dead-lettered."""
    try:
        delays = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"a retry schedule is comma-separated seconds (got {text!r})") from None
    if not 1 <= len(delays) <= MAX_RETRY_STEPS:
        raise ValueError(f"a retry schedule has 1 to {MAX_RETRY_STEPS} steps")
    if any(not math.isfinite(d) or d < 0 or d > 7 * 24 * 3600 for d in delays):
        raise ValueError("each retry delay is from 0 to 604800 seconds")
    return delays
