"""The job record (tasks/jobs/record.py): the stored fields and what they decode to."""

from __future__ import annotations

import orjson
import pytest

from tasks.jobs.record import (
    JobStatus,
    new_record_fields,
    queued_record,
    record_from_fields,
)


def test_record_codec_keeps_big_integers() -> None:
    fields = new_record_fields("id1", "sum_to_n_job", b'{"number": 50000000}', 1.5, None)
    fields["result"] = orjson.dumps(1250000025000000)
    record = record_from_fields(fields)
    assert record.result == 1250000025000000 and record.status is JobStatus.QUEUED
    assert record.to_public()["created_at"].startswith("1970-01-01T00:00:01.5")


@pytest.mark.parametrize("callback", [None, "https://hooks.example.com/x"])
def test_queued_record_is_what_the_stored_fields_decode_to(callback: str | None) -> None:
    fields = new_record_fields("id1", "sum_to_n_job", b'{"number":7}', 2.25, callback, "acme")
    assert record_from_fields(fields) == queued_record(
        "id1", "sum_to_n_job", {"number": 7}, 2.25, callback, "acme")
