"""The DateTime scalar written from epoch seconds (gateway/graphql/timestamps.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from strawberry.exceptions import StrawberryInputCoercionError

from gateway.graphql.schema import build_schema
from gateway.graphql.timestamps import DATE_TIME, serialize


@pytest.mark.parametrize("seconds", [0, 1, 1_765_000_000, 1_765_000_000.123456, 1e-6,
                                     1_765_000_000.5])
def test_epoch_seconds_are_written_as_the_datetimes_were(seconds: float) -> None:
    # What the output types wrote before they kept seconds: a UTC datetime's isoformat.
    assert serialize(seconds) == datetime.fromtimestamp(seconds, UTC).isoformat()


def test_a_datetime_is_written_as_strawberry_writes_it() -> None:
    moment = datetime(2026, 12, 7, 3, 4, 5, 678, tzinfo=UTC)
    assert serialize(moment) == moment.isoformat()


@pytest.mark.parametrize("value", [True, "2026-12-07T00:00:00+00:00", None, [1]])
def test_anything_else_is_refused(value: object) -> None:
    with pytest.raises(TypeError, match="DateTime cannot represent"):
        serialize(value)


def test_input_is_parsed_as_strawberry_parses_it() -> None:
    parsed = DATE_TIME.parse_value("2026-12-07T03:04:05+00:00")
    assert parsed == datetime(2026, 12, 7, 3, 4, 5, tzinfo=UTC)
    with pytest.raises(StrawberryInputCoercionError):
        DATE_TIME.parse_value("yesterday")


def test_inputs_and_outputs_share_one_date_time_scalar() -> None:
    schema = build_schema()._schema
    scalar = schema.get_type("DateTime")
    assert scalar is not None and scalar.serialize(0.0) == "1970-01-01T00:00:00+00:00"
    recover = schema.mutation_type.fields["recoverWebhook"]  # type: ignore[union-attr]
    assert recover.args["since"].type.of_type is scalar
