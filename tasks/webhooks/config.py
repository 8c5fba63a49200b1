"""Parsing and checking of the webhook settings that are more than a number: signing secrets,
the keys that encrypt endpoint secrets at rest, the retry schedule, the networks and ports
the SSRF policy allows. Pure functions, used by
the Settings validators (and the tests), below both settings and the policy."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import math
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix, not a secret)
KEYGEN_COMMAND = (
    'python -c "import secrets,base64;'
    "print('whsec_'+base64.b64encode(secrets.token_bytes(32)).decode())\"")
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 24, 64  # the Standard Webhooks spec: 24 to 64 bytes
MAX_RETRY_STEPS = 50

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Signs per-job callbacks when WEBHOOK_SECRET is empty, outside production only. It is
# derived from a public string, so anyone can forge it: the dispatcher logs a warning.
DEVELOPMENT_WEBHOOK_SECRET = SECRET_PREFIX + base64.b64encode(
    hashlib.sha256(b"job-gateway development webhook secret: not for production").digest()
).decode()


# Encrypts endpoint secrets at rest when WEBHOOK_ENCRYPTION_KEY is empty, outside production
# only (`make up` makes a key of its own in its run directory instead). Public, like the
# development signing secret above: the processes log a warning while it is in use.
DEVELOPMENT_ENCRYPTION_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"job-gateway development encryption key: not for production").digest()
).decode()
ENCRYPTION_KEYGEN_COMMAND = "python -m gateway.webhook_secrets generate-key"
ENCRYPTION_KEY_BYTES = 32  # a Fernet key: 16 bytes of HMAC key, 16 of AES key


def parse_encryption_keys(text: str) -> tuple[str, ...]:
    """`key1,key2`: Fernet keys (url-safe base64 of 32 bytes), the first encrypts, every one
    decrypts (empty: none). Checked without importing `cryptography`, which only the
    processes that encrypt or decrypt load; a key is never echoed in the message."""
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    for number, key in enumerate(keys, 1):
        try:
            raw = base64.urlsafe_b64decode(key.encode("ascii"))
            valid = len(key) == 44 and len(raw) == ENCRYPTION_KEY_BYTES
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise ValueError(
                f"WEBHOOK_ENCRYPTION_KEY: key {number} of {len(keys)} is not a Fernet key "
                f"(url-safe base64 of {ENCRYPTION_KEY_BYTES} bytes); generate one with: "
                f"{ENCRYPTION_KEYGEN_COMMAND}")
    return keys


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


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """`10.0.0.0/8, 127.0.0.0/8, ::1/128` (empty: none)."""
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"not a network in CIDR notation: {part!r}") from None
    return tuple(networks)


def parse_ports(text: str) -> tuple[tuple[int, int], ...]:
    """`80,443,1024-65535`: ports and inclusive ranges."""
    ranges = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise ValueError(f"not a port or port range: {part!r}") from None
        if not 1 <= first <= last <= 65535:
            raise ValueError(f"not a port range within 1-65535: {part!r}")
        ranges.append((first, last))
    if not ranges:
        raise ValueError("at least one port must be allowed")
    return tuple(ranges)
