"""The retry decision and Retry-After (worker/webhooks/retry_policy.py)."""

from __future__ import annotations

import random
import time
from email.utils import formatdate

import pytest

from worker.webhooks.retry_policy import AttemptResult, breaker_signal, decide, parse_retry_after

SCHEDULE = (0.0, 5.0, 30.0)


RNG = random.Random(7)


def result(status: int | None = None, error: str | None = None,
           retry_after: str | None = None) -> AttemptResult:
    return AttemptResult(status, error, 1.0, "", retry_after)


def test_success_and_terminal_answers() -> None:
    kw = {"endpoint": False, "retry_after_max": 60, "now": time.time(), "rng": RNG}
    assert decide(result(200), 1, SCHEDULE, **kw).outcome == "succeeded"
    assert decide(result(204), 1, SCHEDULE, **kw).outcome == "succeeded"
    for status, error in ((302, "redirect"), (400, "client_error"), (404, "client_error"),
                          (410, "client_error")):
        assert decide(result(status, error), 1, SCHEDULE, **kw).outcome == "dead", status
    # No retry can fix these: dead-lettered at the first attempt, not after ~8 hours.
    assert decide(result(None, "blocked"), 1, SCHEDULE, **kw).outcome == "dead"
    assert decide(result(None, "invalid_url"), 1, SCHEDULE, **kw).outcome == "dead"
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


@pytest.mark.parametrize(("status", "error", "signal"), [
    (200, None, "ok"), (204, None, "ok"),
    (500, "server_error", "fail"), (503, "server_error", "fail"), (408, "client_error", "fail"),
    (None, "timeout", "fail"), (None, "connect_error", "fail"), (None, "tls_error", "fail"),
    (None, "protocol_error", "fail"),
    # The receiver is up and refuses or throttles this message: neither counts nor resets.
    (429, "client_error", ""), (404, "client_error", ""), (410, "client_error", ""),
    (301, "redirect", ""), (None, "blocked", ""), (None, "internal_error", ""),
])
def test_what_an_attempt_tells_the_breaker(status: int | None, error: str | None,
                                           signal: str) -> None:
    assert breaker_signal(result(status, error)) == signal
