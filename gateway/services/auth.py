"""API keys and tenants.

Keys come from the setting API_KEYS (`tenant:key` pairs) and from Redis, where the CLI
(`python -m gateway.keys`) stores only their SHA-256. A request's key names its tenant;
jobs and webhook endpoints belong to that tenant. With no key configured anywhere the
gateway is open and everything belongs to the tenant `public` (local development only).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from gateway.services.errors import Unauthorized
from tasks.redis.keys import API_KEYS_KEY
from tasks.redis.replies import as_text

PUBLIC_TENANT = "public"
KEY_PREFIX_TEXT = "gwk_"
CACHE_SECONDS = 5.0  # a revoked key stops working within this long
_SCOPE_CALLER = "gateway.caller"  # where a request's scope keeps its checked caller


TENANT_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def check_tenant(name: str) -> str:
    if not TENANT_PATTERN.fullmatch(name):
        raise ValueError(f"tenant names are 1-64 of A-Z a-z 0-9 _ . - (got {name!r})")
    return name


def new_key() -> str:
    return KEY_PREFIX_TEXT + secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_api_keys(spec: str) -> list[tuple[str, bytes]]:
    """`tenant:key,tenant2:key2` -> [(tenant, sha256(key))]. Only digests are kept."""
    pairs = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        tenant, sep, key = item.partition(":")
        if not sep or not tenant.strip() or len(key.strip()) < 16:
            raise ValueError("API_KEYS must be 'tenant:key' pairs with keys of 16+ characters")
        pairs.append((check_tenant(tenant.strip()), hashlib.sha256(key.strip().encode()).digest()))
    return pairs


@dataclass(frozen=True, slots=True)
class Caller:
    tenant: str
    key_id: str | None  # first 12 hex digits of the key's digest; None when auth is off


# Everyone, while no API key is configured (one value: a Caller is immutable).
PUBLIC_CALLER = Caller(PUBLIC_TENANT, None)


class Authenticator:
    def __init__(self, api_keys: str, redis: aioredis.Redis) -> None:
        self._static = parse_api_keys(api_keys)
        self._redis = redis
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._stored_keys_checked_at = -CACHE_SECONDS
        self._stored_keys_exist = False
        self._refresh_lock = asyncio.Lock()

    async def required(self) -> bool:
        """Keys are required as soon as any is configured, in settings or in Redis."""
        if self._static:
            return True
        if time.monotonic() - self._stored_keys_checked_at >= CACHE_SECONDS:
            # One check at a time: when the cached answer expires under load, the requests
            # of that moment wait for one EXISTS instead of each sending its own (a burst
            # of hundreds, each opening a Redis connection, stalled the gateway every 5 s).
            async with self._refresh_lock:
                if time.monotonic() - self._stored_keys_checked_at >= CACHE_SECONDS:
                    self._stored_keys_exist = bool(await self._redis.exists(API_KEYS_KEY))
                    self._stored_keys_checked_at = time.monotonic()
        return self._stored_keys_exist

    async def caller(self, presented: str | None) -> Caller:
        """The caller a key names; Unauthorized when keys are required and this one is
        missing or unknown."""
        if not await self.required():
            return PUBLIC_CALLER
        if not presented:
            raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>' "
                               "or 'X-API-Key: <key>'")
        tenant = await self._lookup(presented)
        if tenant is None:
            raise Unauthorized("the API key is not valid")
        return Caller(tenant, key_digest(presented)[:12])

    async def caller_for(self, scope: MutableMapping[str, Any]) -> Caller:
        """`caller` of an HTTP or WebSocket request's own key headers, checked once per
        request: every face checks the key before it reads a body, and later calls for
        the same request find the caller in its scope."""
        caller: Caller | None = scope.get(_SCOPE_CALLER)
        if caller is None:
            caller = await self.caller(presented_key_in(scope["headers"]))
            scope[_SCOPE_CALLER] = caller
        return caller

    async def _lookup(self, presented: str) -> str | None:
        digest = hashlib.sha256(presented.encode()).digest()
        # Settings keys: compare every digest in constant time, whatever matches first.
        found = None
        for tenant, expected in self._static:
            if hmac.compare_digest(digest, expected):
                found = tenant
        if found is not None:
            return found
        hex_digest = digest.hex()
        now = time.monotonic()
        cached = self._cache.get(hex_digest)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        raw = await self._redis.hget(API_KEYS_KEY, hex_digest)
        stored = None if raw is None else as_text(raw)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[hex_digest] = (now, stored)
        return stored


_KEY_HEADERS = (b"x-api-key", b"authorization")


def presented_key_in(raw_headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """`presented_key` of an ASGI scope's raw headers, without decoding the others (the
    hot routes call it for every request)."""
    found: dict[str, str] = {}
    for name, value in raw_headers:
        if name in _KEY_HEADERS:
            found.setdefault(name.decode(), value.decode("latin-1"))
    return presented_key(found) if found else None


def presented_key(headers: Mapping[str, Any]) -> str | None:
    """The key a client presents: `X-API-Key: <key>` or `Authorization: Bearer <key>`.
    `headers` may be HTTP headers or a WebSocket connection_init payload (any case)."""
    lowered = {str(k).lower(): v for k, v in headers.items() if isinstance(v, str)}
    if lowered.get("x-api-key", "").strip():
        return str(lowered["x-api-key"]).strip()
    scheme, _, value = str(lowered.get("authorization", "")).partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None
