"""Job listing (gateway/services/listing.py): cursors and page sizes."""

from __future__ import annotations

import pytest

from gateway.services.errors import InvalidInput
from gateway.services.listing import check_page_size, decode_cursor, encode_position
from tasks.redis.time_index import Position


def test_cursor_round_trip_and_order() -> None:
    older = Position(1_700_000_000.123456, "0b9c6a1e-8d2f-4c3b-9e4a-5f6a7b8c9d0e")
    newer = Position(1_700_000_000.123457, "0b9c6a1e-8d2f-4c3b-9e4a-5f6a7b8c9d0e")
    assert decode_cursor(encode_position(older)) == older
    assert older < newer  # a page after `newer` holds `older`


@pytest.mark.parametrize("cursor", ["", "x", "MXx4", "bmFufDBiOWM2YTFlLThkMmYtNGMzYi05ZTRh",
                                    encode_position(Position(1.0, "x")).replace("=", ""),
                                    "A" * 500])
def test_forged_cursors_are_bad_input(cursor: str) -> None:
    with pytest.raises(InvalidInput, match="after"):
        decode_cursor(cursor)


@pytest.mark.parametrize("first", [0, -1, 101])
def test_page_size_bounds(first: int) -> None:
    with pytest.raises(InvalidInput, match="first"):
        check_page_size(first)
