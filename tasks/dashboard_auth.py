"""The dashboard credentials, FLOWER_BASIC_AUTH (`user:password[,user:password...]`).

They guard /dashboard/ (Flower), /load-test/ (Locust's web UI) and /metrics. NGINX checks
them (infra/htpasswd.py writes its file), and so does each service behind it on its own
port, which NGINX reaches with the same Authorization header: Flower itself, Locust's web
UI (infra/locust_auth.py) and the gateway's /metrics (gateway/rest/routes/metrics.py).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence

REALM = "job gateway"
CHALLENGE = f'Basic realm="{REALM}"'  # the WWW-Authenticate header of a 401

Credentials = Sequence[tuple[str, str]]


def pairs(basic_auth: str) -> list[tuple[str, str]]:
    """`user:password,user2:password2` -> [(user, password), ...] (a password may hold
    colons, not commas)."""
    out = []
    for pair in filter(None, basic_auth.split(",")):
        user, _, password = pair.partition(":")
        out.append((user, password))
    return out


def authorized(header: str | None, credentials: Credentials) -> bool:
    """Whether an Authorization header carries one of `credentials` (HTTP basic), compared
    in constant time. No credentials configured: nobody is authorized."""
    scheme, _, encoded = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        presented = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    match = False
    for user, password in credentials:  # every pair, so the time tells nothing either
        match |= hmac.compare_digest(presented, f"{user}:{password}".encode())
    return match
