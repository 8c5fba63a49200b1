"""Pure pieces of the GraphQL face: the BigInt scalar, list cursors, the order of job
states that lets a subscription drop stale events."""

from __future__ import annotations

import pytest
from graphql import GraphQLError, IntValueNode, StringValueNode

from gateway.graphql.scalars import parse_literal, parse_value, serialize
from gateway.services.errors import InvalidInput
from gateway.services.events import progress
from gateway.services.listing import Position, check_page_size, decode_cursor, encode_cursor
from tasks.jobs.record import JobRecord, JobStatus


@pytest.mark.parametrize(("raw", "value"), [
    (0, 0), (50_000_000, 50_000_000), (-3, -3), (10**30, 10**30),
    ("1250000025000000", 1250000025000000), ("-7", -7), ("9" * 100, int("9" * 100)),
])
def test_bigint_accepts_integers_and_digit_strings(raw: object, value: int) -> None:
    assert parse_value(raw) == value


@pytest.mark.parametrize("raw", [True, 1.0, 2.5, "1e3", " 5", "5 ", "0x10", "", "-",
                                 "1_000", "9" * 101, 10**101, None, [1], {"n": 1}])
def test_bigint_refuses_everything_else(raw: object) -> None:
    with pytest.raises(GraphQLError, match="BigInt") as raised:
        parse_value(raw)
    assert raised.value.extensions == {"code": "BAD_USER_INPUT"}


def test_bigint_literals_and_output() -> None:
    assert parse_literal(IntValueNode(value="123456789012345678901234567890")) == \
        123456789012345678901234567890
    assert parse_literal(StringValueNode(value="42")) == 42
    with pytest.raises(GraphQLError):
        parse_literal(StringValueNode(value="4.2"))
    assert serialize(1250000025000000) == 1250000025000000
    with pytest.raises(TypeError):
        serialize(True)


def test_cursor_round_trip_and_order() -> None:
    older = Position(1_700_000_000.123456, "0b9c6a1e-8d2f-4c3b-9e4a-5f6a7b8c9d0e")
    newer = Position(1_700_000_000.123457, "0b9c6a1e-8d2f-4c3b-9e4a-5f6a7b8c9d0e")
    assert decode_cursor(encode_cursor(older)) == older
    assert older < newer  # a page after `newer` holds `older`


@pytest.mark.parametrize("cursor", ["", "x", "MXx4", "bmFufDBiOWM2YTFlLThkMmYtNGMzYi05ZTRh",
                                    encode_cursor(Position(1.0, "x")).replace("=", ""),
                                    "A" * 500])
def test_forged_cursors_are_bad_input(cursor: str) -> None:
    with pytest.raises(InvalidInput, match="after"):
        decode_cursor(cursor)


@pytest.mark.parametrize("first", [0, -1, 101])
def test_page_size_bounds(first: int) -> None:
    with pytest.raises(InvalidInput, match="first"):
        check_page_size(first)


def _record(status: JobStatus, attempts: int) -> JobRecord:
    return JobRecord(id="j", function="f", status=status, input={}, result=None, error=None,
                     attempts=attempts, created_at=0.0, started_at=None, finished_at=None,
                     callback_url=None, tenant="public")


def test_progress_orders_a_jobs_life_including_retries() -> None:
    life = [_record(JobStatus.QUEUED, 0), _record(JobStatus.STARTED, 1),
            _record(JobStatus.RETRYING, 1), _record(JobStatus.STARTED, 2),
            _record(JobStatus.SUCCEEDED, 2)]
    keys = [progress(r) for r in life]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert progress(_record(JobStatus.CANCELLED, 0)) > progress(_record(JobStatus.QUEUED, 0))
