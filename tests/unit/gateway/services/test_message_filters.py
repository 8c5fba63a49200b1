"""The inputs of the failed-message listing and recover (gateway/services/message_filters.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.services.errors import InvalidInput
from gateway.services.listing import encode_position
from gateway.services.message_filters import (
    MessageStatus,
    check_endpoint_id,
    check_status,
    decode_cursor,
    parse_time,
    time_range,
)
from tasks.redis.time_index import Position


def test_rfc3339_times() -> None:
    noon = datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp()
    for text in ("2026-01-01T12:00:00Z", "2026-01-01t12:00:00z", "2026-01-01 12:00:00Z",
                 "2026-01-01T14:00:00+02:00", "2026-01-01T12:00:00.000000000Z"):
        assert parse_time(text, "since") == noon, text
    assert parse_time("2026-01-01T12:00:00.1234567Z", "since") == pytest.approx(noon + 0.123456)
    assert parse_time(datetime(2026, 1, 1, 13, tzinfo=timezone(timedelta(hours=1))),
                      "since") == noon
    assert parse_time("0001-01-01T00:00:00Z", "since") < 0  # before 1970 is a time too
    for bad in ("2026-01-01T12:00:00", "2026-01-01", "12:00:00Z", "yesterday", "",
                "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00+24:00",
                "20260101T120000Z", "2026-01-01T12:00:00Z " * 5, 12, None,
                "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", datetime(2026, 1, 1),
                datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23)))):
        with pytest.raises(InvalidInput, match=r"^since: "):
            parse_time(bad, "since")


def test_time_range_and_other_filters() -> None:
    assert time_range(None, None).since is None
    assert time_range("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z").until is not None
    with pytest.raises(InvalidInput, match="later than until"):
        time_range("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z")
    assert check_status("dead") is MessageStatus.DEAD
    assert check_status(MessageStatus.FAILED) is MessageStatus.FAILED
    for bad in ("DEAD", "", "all"):
        with pytest.raises(InvalidInput, match=r"^status: "):
            check_status(bad)
    assert check_endpoint_id(None) is None
    assert check_endpoint_id("wh_" + "a" * 32) == "wh_" + "a" * 32
    for bad in ("wh_x", "msg_" + "a" * 32, "wh_" + "A" * 32):
        with pytest.raises(InvalidInput, match=r"^endpoint_id: "):
            check_endpoint_id(bad)


def test_cursor_round_trip_and_forgeries() -> None:
    position = Position(1796000000.123456, "msg_" + "0" * 32)
    assert decode_cursor(encode_position(position)) == position
    forged = [encode_position(Position(1.0, "job-id")), "x", "A" * 300,
              encode_position(Position(float("nan"), "msg_" + "0" * 32))]
    for bad in forged:
        with pytest.raises(InvalidInput, match=r"^after: "):
            decode_cursor(bad)
