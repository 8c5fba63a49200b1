"""Signing (worker/webhooks/signing.py): checked with standardwebhooks, svix and a plain-hmac
computation, with one secret and with two during a rotation."""

from __future__ import annotations

import time

import pytest
import standardwebhooks
import svix.webhooks
from cryptography.fernet import Fernet

from tasks.webhooks.config import new_webhook_secret
from tasks.webhooks.model import endpoint_secrets
from tasks.webhooks.secret_box import SecretBox
from tests.support.webhook_receiver import verify_by_hand
from worker.webhooks.signing import signed_headers


def test_signature_verifies_with_standardwebhooks_svix_and_by_hand() -> None:
    secret = new_webhook_secret()
    body = b'{"type":"job.succeeded","data":{"result":1250000025000000}}'
    headers = signed_headers("msg_abc", body, [secret], time.time())
    assert standardwebhooks.Webhook(secret).verify(body, headers)["data"]["result"] \
        == 1250000025000000
    svix.webhooks.Webhook(secret).verify(body, headers)
    assert verify_by_hand(secret, headers, body)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(new_webhook_secret()).verify(body, headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(body + b" ", headers)


def test_rotation_signs_with_both_secrets() -> None:
    new, old = new_webhook_secret(), new_webhook_secret()
    now = time.time()
    box = SecretBox([Fernet.generate_key().decode()])
    fields = {"secret": box.seal(new), "previous_secret": box.seal(old),
              "previous_secret_until": repr(now + 60)}
    secrets = endpoint_secrets(fields, now, box.open)
    assert secrets == (new, old)
    body = b"{}"
    headers = signed_headers("msg_x", body, secrets, now)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        standardwebhooks.Webhook(secret).verify(body, headers)
        assert verify_by_hand(secret, headers, body)
    # After the grace period only the new secret signs.
    assert endpoint_secrets(fields, now + 61, box.open) == (new,)
