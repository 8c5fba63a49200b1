"""Endpoint signing secrets encrypted at rest, with WEBHOOK_ENCRYPTION_KEY.

Fernet from the `cryptography` package: authenticated encryption (AES-128-CBC with an
HMAC-SHA256 over the whole token, a random IV per token), a versioned token format, and
MultiFernet for key rotation (a list of keys: the first encrypts, every one decrypts,
`rotate` re-encrypts under the first). One primitive for one job, nothing to get wrong by
hand; `cryptography` is the Python Cryptographic Authority's library on OpenSSL.

Redis holds only tokens (`gAAAA…`): the gateway seals a secret when it makes one
(registration, rotation) and the dispatcher opens it when it signs. A stored value that
still starts with `whsec_` is a plaintext secret from before encryption at rest: it is
used as it is, so delivery never stops during an upgrade, and
`python -m gateway.webhook_secrets reencrypt` seals it (`reseal`).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from tasks.settings import Settings
from tasks.webhooks.config import SECRET_PREFIX

log = logging.getLogger("tasks.webhooks.secrets")
OPENED_CACHE_SIZE = 4096  # opened secrets a dispatcher keeps (two per endpoint in rotation)


class SecretUnreadable(ValueError):
    """A stored secret no key of WEBHOOK_ENCRYPTION_KEY opens (a key dropped too early, or
    another deployment's key). The message names no key and no secret."""


class SealState(enum.StrEnum):
    CURRENT = "current"  # sealed with the first key
    OLDER_KEY = "older_key"  # sealed with a later key of the list: reencrypt moves it
    PLAINTEXT = "plaintext"  # from before encryption at rest: reencrypt seals it
    UNREADABLE = "unreadable"  # no key of the list opens it


def is_plaintext(stored: str) -> bool:
    return stored.startswith(SECRET_PREFIX)


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("a SecretBox needs at least one key")
        self._first = Fernet(keys[0])
        self._all = MultiFernet([Fernet(k) for k in keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(settings.webhook_encryption_keys)

    def seal(self, secret: str) -> str:
        """The token to store for `secret`, under the first key."""
        return self._first.encrypt(secret.encode()).decode("ascii")

    def open(self, stored: str) -> str:
        """The secret a stored value holds (a plaintext one as it is)."""
        if is_plaintext(stored):
            return stored
        try:
            return self._all.decrypt(stored.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise SecretUnreadable(
                "a stored endpoint secret opens with no key of WEBHOOK_ENCRYPTION_KEY") from None

    def state(self, stored: str) -> SealState:
        if is_plaintext(stored):
            return SealState.PLAINTEXT
        token = stored.encode("ascii", errors="replace")
        try:
            self._first.decrypt(token)
            return SealState.CURRENT
        except InvalidToken:
            pass
        try:
            self._all.decrypt(token)
            return SealState.OLDER_KEY
        except InvalidToken:
            return SealState.UNREADABLE

    def reseal(self, stored: str) -> str | None:
        """The value to store instead of `stored`, under the first key; None when it is
        sealed with it already. Raises SecretUnreadable when no key opens it."""
        state = self.state(stored)
        if state is SealState.CURRENT:
            return None
        if state is SealState.UNREADABLE:
            raise SecretUnreadable(
                "a stored endpoint secret opens with no key of WEBHOOK_ENCRYPTION_KEY")
        return self.seal(self.open(stored))


class SecretOpener:
    """`SecretBox.open` for the dispatcher, at signing time, through a bounded cache keyed by
    the sealed value: a token is unique to one secret (a random IV each) and a rotation
    stores a new one, so the cache never hands out a stale secret, and a busy endpoint
    costs one decryption, not one per message. It warns once about plaintext secrets."""

    def __init__(self, box: SecretBox, size: int = OPENED_CACHE_SIZE) -> None:
        self._box = box
        self._cached = lru_cache(maxsize=size)(self._open)
        self._warned = False

    def __call__(self, stored: str) -> str:
        return self._cached(stored)

    def _open(self, stored: str) -> str:
        if is_plaintext(stored) and not self._warned:
            self._warned = True
            log.warning("endpoint secrets are stored in plain text (registered before "
                        "encryption at rest): run python -m gateway.webhook_secrets reencrypt")
        return self._box.open(stored)
