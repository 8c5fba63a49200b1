"""Pure webhook logic: settings, the retry decision, Retry-After, signing, the envelope."""

from __future__ import annotations

import base64
import random
import time
from email.utils import formatdate

import orjson
import pytest
import standardwebhooks
import svix.webhooks
from pydantic import ValidationError

from gateway.services.errors import InvalidInput
from gateway.services.jobs import check_callback_url
from gateway.services.webhooks import check_events
from tasks.jobs.record import new_record_fields
from tasks.settings import Settings
from tasks.webhooks.config import DEVELOPMENT_WEBHOOK_SECRET, new_webhook_secret
from tasks.webhooks.model import endpoint_secrets, render_body
from tasks.webhooks.ssrf import UrlPolicy
from tests.support.webhook_receiver import verify_by_hand
from worker.webhooks.retry_policy import AttemptResult, decide, parse_retry_after
from worker.webhooks.signing import signed_headers

SCHEDULE = (0.0, 5.0, 30.0)
RNG = random.Random(7)


def result(status: int | None = None, error: str | None = None,
           retry_after: str | None = None) -> AttemptResult:
    return AttemptResult(status, error, 1.0, "", retry_after)


# --- settings --------------------------------------------------------------------------


def test_production_refuses_a_missing_secret() -> None:
    keys = "ops:a-real-key-0123456789abcdef"
    with pytest.raises(ValidationError, match="WEBHOOK_SECRET must be set in production"):
        Settings(environment="production", api_keys=keys)
    secret = new_webhook_secret()
    assert Settings(environment="production", api_keys=keys,
                    webhook_secret=secret).webhook_signing_secrets == (secret,)
    assert Settings(environment="development").webhook_signing_secrets == (
        DEVELOPMENT_WEBHOOK_SECRET,)


@pytest.mark.parametrize("secret", ["change-me", "whsec_", "whsec_not base64!",
                                    "whsec_" + base64.b64encode(b"short").decode()])
def test_malformed_secrets_refused(secret: str) -> None:
    with pytest.raises(ValidationError, match="webhook secret"):
        Settings(webhook_secret=secret)


def test_previous_secret_signs_too() -> None:
    new, old = new_webhook_secret(), new_webhook_secret()
    assert Settings(webhook_secret=new, webhook_secret_previous=old).webhook_signing_secrets \
        == (new, old)


@pytest.mark.parametrize(("field", "value"), [
    ("webhook_retry_schedule", "0,5,x"), ("webhook_retry_schedule", ""),
    ("webhook_retry_schedule", "0,-1"), ("webhook_retry_schedule", "0,inf"),
    ("webhook_allowed_networks", "10.0.0.0/99"), ("webhook_allowed_ports", "80-70"),
])
def test_webhook_settings_validated(field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        Settings(**{field: value})


def test_fractional_schedule() -> None:
    assert Settings(webhook_retry_schedule="0,0.2,0.5").webhook_retry_delays == (0, 0.2, 0.5)


# --- the retry decision --------------------------------------------------------------


def test_success_and_terminal_answers() -> None:
    kw = {"endpoint": False, "retry_after_max": 60, "now": time.time(), "rng": RNG}
    assert decide(result(200), 1, SCHEDULE, **kw).outcome == "succeeded"
    assert decide(result(204), 1, SCHEDULE, **kw).outcome == "succeeded"
    for status, error in ((302, "redirect"), (400, "client_error"), (404, "client_error"),
                          (410, "client_error")):
        assert decide(result(status, error), 1, SCHEDULE, **kw).outcome == "dead", status
    assert decide(result(None, "blocked"), 1, SCHEDULE, **kw).outcome == "dead"
    # 410 from a registered endpoint disables it instead.
    assert decide(result(410, "client_error"), 1, SCHEDULE,
                  **{**kw, "endpoint": True}).outcome == "gone"


@pytest.mark.parametrize("failure", [
    result(500, "server_error"), result(503, "server_error"), result(408, "client_error"),
    result(429, "client_error"), result(None, "timeout"), result(None, "connect_error"),
    result(None, "tls_error"), result(None, "protocol_error"),
])
def test_retryable_failures_follow_the_schedule_then_dead_letter(failure: AttemptResult) -> None:
    kw = {"endpoint": False, "retry_after_max": 60, "now": time.time(), "rng": RNG}
    first = decide(failure, 1, SCHEDULE, **kw)
    assert first.outcome == "retry" and 4.0 <= first.delay <= 6.0  # 5 s +-20%
    second = decide(failure, 2, SCHEDULE, **kw)
    assert second.outcome == "retry" and 24.0 <= second.delay <= 36.0
    assert decide(failure, 3, SCHEDULE, **kw).outcome == "dead"


def test_retry_after_is_honoured_and_capped() -> None:
    now = time.time()
    kw = {"endpoint": False, "now": now, "rng": RNG}
    slow = decide(result(429, "client_error", "20"), 1, SCHEDULE, retry_after_max=60, **kw)
    assert slow.delay == 20
    capped = decide(result(503, "server_error", "86400"), 1, SCHEDULE, retry_after_max=60, **kw)
    assert capped.delay == 60
    # Never sooner than the schedule says.
    soon = decide(result(429, "client_error", "1"), 2, SCHEDULE, retry_after_max=60, **kw)
    assert soon.delay >= 24


def test_parse_retry_after() -> None:
    now = time.time()
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("-5", now) is None
    date = formatdate(now + 30, usegmt=True)
    assert 28 <= (parse_retry_after(date, now) or 0) <= 31
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now) == 0


# --- signing and the envelope --------------------------------------------------------


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
    fields = {"secret": new, "previous_secret": old, "previous_secret_until": repr(now + 60)}
    secrets = endpoint_secrets(fields, now)
    assert secrets == (new, old)
    body = b"{}"
    headers = signed_headers("msg_x", body, secrets, now)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        standardwebhooks.Webhook(secret).verify(body, headers)
        assert verify_by_hand(secret, headers, body)
    # After the grace period only the new secret signs.
    assert endpoint_secrets(fields, now + 61) == (new,)


def test_envelope_is_exact_and_deterministic() -> None:
    fields = new_record_fields("job-1", "sum_to_n_job", b'{"number": 50000000}', 100.0,
                               "https://secret-token.example/")
    fields.update({"status": "SUCCEEDED", "result": b"1250000025000000", "attempts": "1",
                   "started_at": "100.5", "finished_at": "101.25"})
    flat = orjson.dumps([x for kv in fields.items() for x in kv], default=bytes.decode)
    body = render_body("job.succeeded", flat)
    assert body == render_body("job.succeeded", flat)
    envelope = orjson.loads(body)
    assert envelope["type"] == "job.succeeded"
    assert envelope["timestamp"] == "1970-01-01T00:01:41.250000+00:00"
    data = envelope["data"]
    assert data["result"] == 1250000025000000 and data["id"] == "job-1"
    assert data["input"] == {"number": 50000000} and data["status"] == "SUCCEEDED"
    assert "callback_url" not in data  # one receiver never learns another's URL


def test_check_events() -> None:
    assert check_events(None) is None
    assert check_events(["job.failed", "job.succeeded", "job.failed"]) == (
        "job.succeeded", "job.failed")
    for bad in ([], ["job.done"], "job.failed", [1]):
        with pytest.raises(InvalidInput, match="events"):
            check_events(bad)


def test_check_callback_url_names_the_field() -> None:
    with pytest.raises(InvalidInput, match=r"^url: ") as refused:
        check_callback_url("http://169.254.169.254/",
                           UrlPolicy.from_settings(Settings(_env_file=None)), field="url")
    assert refused.value.details[0]["type"] == "url_blocked"
