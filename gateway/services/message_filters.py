"""The inputs of listing and recovering failed webhook messages, checked once for both faces:
RFC 3339 times, the message cursor (opaque, checked fully: a forged one is bad input), the
status filter and an endpoint id."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.services.errors import InvalidInput
from gateway.services.listing import decode_position
from tasks.redis.time_index import Position
from tasks.webhooks.store import DELIVERY_ID, ENDPOINT_ID

MAX_TIME_LENGTH = 64
EARLIEST = datetime(1, 1, 1, tzinfo=UTC).timestamp()
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC).timestamp()
# RFC 3339 date-time: a date, "T" (or a space, as RFC 3339 allows), a time, an offset.
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


class MessageStatus(enum.StrEnum):
    FAILED = "failed"  # the last attempt failed (awaiting a retry, or held), or dead-lettered
    DEAD = "dead"  # dead-lettered: no automatic attempt is left


@dataclass(frozen=True, slots=True)
class TimeRange:
    since: float | None
    until: float | None


def parse_time(value: str | datetime, field: str) -> float:
    """Unix seconds of an RFC 3339 time with its offset (text), or an aware datetime; one
    that is not a year 1 to 9999 time in UTC is refused (it could not be shown back)."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInput(f"{field}: give a time zone offset (e.g. Z or +02:00)")
        return _in_range(value.timestamp(), field)
    if not isinstance(value, str) or len(value) > MAX_TIME_LENGTH \
            or not RFC3339.fullmatch(value):
        raise InvalidInput(f"{field}: expected an RFC 3339 time such as "
                           f"2026-01-01T12:00:00Z (got {str(value)[:MAX_TIME_LENGTH]!r})")
    text = value.replace("z", "Z").replace("t", "T")
    # fromisoformat takes up to 6 fraction digits: keep microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        seconds = datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError):
        raise InvalidInput(f"{field}: not a valid time ({value!r})") from None
    return _in_range(seconds, field)


def _in_range(seconds: float, field: str) -> float:
    if not EARLIEST <= seconds <= LATEST:
        raise InvalidInput(f"{field}: out of range (years 1 to 9999, in UTC)")
    return seconds


def time_range(since: str | datetime | None, until: str | datetime | None) -> TimeRange:
    low = None if since is None else parse_time(since, "since")
    high = None if until is None else parse_time(until, "until")
    if low is not None and high is not None and low > high:
        raise InvalidInput("since: later than until")
    return TimeRange(low, high)


def check_endpoint_id(endpoint_id: str | None) -> str | None:
    if endpoint_id is not None and not ENDPOINT_ID.fullmatch(endpoint_id):
        raise InvalidInput(f"endpoint_id: not a webhook endpoint id (wh_ and 32 hex digits; "
                           f"got {endpoint_id[:80]!r})")
    return endpoint_id


def check_status(status: str | MessageStatus) -> MessageStatus:
    try:
        return MessageStatus(status)
    except ValueError:
        raise InvalidInput(f"status: expected failed or dead (got {str(status)[:40]!r})"
                           ) from None


def decode_cursor(cursor: str) -> Position:
    return decode_position(cursor, lambda i: bool(DELIVERY_ID.fullmatch(i)),
                           "use the previous page's cursor")
