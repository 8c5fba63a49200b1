"""Secrets at rest (tasks/webhooks/secret_box.py): sealed under the first key, opened with
any key of the list, plaintext ones from before read as they are, states for `reencrypt`,
and the dispatcher's cache of opened secrets."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet

from tasks.webhooks.config import new_webhook_secret
from tasks.webhooks.secret_box import SealState, SecretBox, SecretOpener, SecretUnreadable


def key() -> str:
    return Fernet.generate_key().decode()


def test_sealed_secret_opens_and_is_not_in_clear() -> None:
    box = SecretBox([key()])
    secret = new_webhook_secret()
    sealed = box.seal(secret)
    assert secret not in sealed and secret.removeprefix("whsec_") not in sealed
    assert sealed.startswith("gAAAA")  # a Fernet token, version 0x80
    assert box.seal(secret) != sealed  # a random IV each time
    assert box.open(sealed) == secret and box.state(sealed) is SealState.CURRENT


def test_key_rotation_old_key_second_still_opens_reseal_moves_to_first() -> None:
    old, new = key(), key()
    secret = new_webhook_secret()
    under_old = SecretBox([old]).seal(secret)
    rotated = SecretBox([new, old])
    assert rotated.open(under_old) == secret
    assert rotated.state(under_old) is SealState.OLDER_KEY
    moved = rotated.reseal(under_old)
    assert moved is not None and rotated.state(moved) is SealState.CURRENT
    assert rotated.reseal(moved) is None  # already under the first key
    assert SecretBox([new]).open(moved) == secret  # the old key can leave the list
    with pytest.raises(SecretUnreadable):
        SecretBox([new]).open(under_old)


def test_plaintext_from_before_is_read_as_is_and_resealed() -> None:
    box = SecretBox([key()])
    secret = new_webhook_secret()
    assert box.open(secret) == secret and box.state(secret) is SealState.PLAINTEXT
    sealed = box.reseal(secret)
    assert sealed is not None and box.open(sealed) == secret and secret not in sealed


@pytest.mark.parametrize("stored", ["gAAAAAnot-a-token", "", "gAAAAé", "x" * 200])
def test_unreadable_values_are_refused_without_echo(stored: str) -> None:
    box = SecretBox([key()])
    with pytest.raises(SecretUnreadable) as info:
        box.open(stored)
    assert stored not in str(info.value) or not stored
    assert box.state(stored) is SealState.UNREADABLE
    with pytest.raises(SecretUnreadable):
        box.reseal(stored)


def test_tampered_token_is_refused() -> None:
    box = SecretBox([key()])
    sealed = box.seal(new_webhook_secret())
    flipped = sealed[:40] + ("A" if sealed[40] != "A" else "B") + sealed[41:]
    with pytest.raises(SecretUnreadable):
        box.open(flipped)


def test_opener_caches_per_sealed_value_and_warns_once_about_plaintext(
    caplog: pytest.LogCaptureFixture,
) -> None:
    box = SecretBox([key()])
    opener = SecretOpener(box, size=2)
    first, second = new_webhook_secret(), new_webhook_secret()
    sealed = box.seal(first)
    assert opener(sealed) == first and opener(sealed) == first
    # A rotation stores a new token: the cache can never hand out the old secret for it.
    assert opener(box.seal(second)) == second
    info = opener._cached.cache_info()
    assert info.hits == 1 and info.misses == 2 and info.maxsize == 2
    with caplog.at_level(logging.WARNING):
        plain = new_webhook_secret()
        assert opener(plain) == plain and opener(new_webhook_secret())
    assert sum("plain text" in r.getMessage() for r in caplog.records) == 1
    with pytest.raises(SecretUnreadable):
        opener("gAAAAAbroken")
