"""What an attempt's result means for its delivery: success, retry (after how long), dead
letter, or (410 from a registered endpoint) disable the endpoint; and for its
destination's circuit breaker: a success, a failure, or neither. Pure logic."""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from tasks.webhooks.store import BreakerSignal, Outcome

JITTER = 0.2  # a retry delay varies by +-20%, so failed deliveries do not retry in lockstep

# Network-level failures: worth another try (the receiver may be restarting, its DNS name
# or certificate being fixed: a TLS error, also a certificate's, is its operator's to fix,
# like a 5xx), and signs of a receiver down for its circuit breaker. Every other class is
# dead-lettered at once, as no retry can change it: `blocked` (the SSRF guard refused the
# URL or an address its host resolves to) and `invalid_url` (a URL the HTTP client can
# never send, e.g. one an older version stored).
NETWORK_FAILURES = frozenset({"timeout", "connect_error", "tls_error", "protocol_error"})
RETRYABLE_STATUS = frozenset({408, 429})
# What says the receiver is down or overwhelmed, for the breaker: NETWORK_FAILURES, a 5xx
# or a 408. Not a 429: the receiver is up and asks for less, which its Retry-After and the
# rate limits give it; counting it would turn polite back-pressure into an outage and,
# after WEBHOOK_DISABLE_AFTER_SECONDS, a disabled endpoint. Nor another 4xx, a 3xx or a
# refused address: the receiver (or the guard) refuses that message, which is
# dead-lettered at once and holds no slot.


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    error: str | None  # None: 2xx
    duration_ms: float
    response_body: str
    retry_after: str | None = None  # the Retry-After header, as sent
    detail: str | None = None  # what went wrong, when no answer came


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    delay: float = 0.0


def error_class(status_code: int) -> str | None:
    """The error class of an HTTP answer (None for 2xx: success)."""
    if 200 <= status_code < 300:
        return None
    if 300 <= status_code < 400:
        return "redirect"  # never followed: a receiver must answer itself
    return "client_error" if status_code < 500 else "server_error"


def is_retryable(result: AttemptResult) -> bool:
    if result.status_code is not None:
        return result.status_code in RETRYABLE_STATUS or 500 <= result.status_code < 600
    return result.error in NETWORK_FAILURES


def breaker_signal(result: AttemptResult) -> BreakerSignal:
    """"ok" for a 2xx, "fail" for what counts towards opening the breaker, else "" (the
    consecutive count neither grows nor resets)."""
    if result.error is None:
        return "ok"
    if result.status_code is not None:
        return "fail" if result.status_code >= 500 or result.status_code == 408 else ""
    return "fail" if result.error in NETWORK_FAILURES else ""


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def jittered(delay: float, rng: random.Random) -> float:
    return delay * rng.uniform(1 - JITTER, 1 + JITTER) if delay > 0 else 0.0


def decide(
    result: AttemptResult,
    attempts_this_round: int,
    schedule: Sequence[float],
    *,
    endpoint: bool,
    retry_after_max: float,
    now: float,
    rng: random.Random,
) -> Decision:
    """`attempts_this_round` counts this attempt; `schedule[i]` is the delay before attempt
    i+1 of a round (a round starts at the event, a redelivery or an enable)."""
    if result.error is None:
        return Decision("succeeded")
    if result.status_code == 410 and endpoint:
        return Decision("gone")
    if not is_retryable(result) or attempts_this_round >= len(schedule):
        return Decision("dead")
    delay = jittered(schedule[attempts_this_round], rng)
    asked = parse_retry_after(result.retry_after, now)
    if asked is not None and math.isfinite(asked):
        # Never sooner than the receiver asked, never later than the cap.
        delay = max(delay, min(asked, retry_after_max))
    return Decision("retry", delay)
