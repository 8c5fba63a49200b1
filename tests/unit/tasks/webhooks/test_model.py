"""The webhook envelope (tasks/webhooks/model.py)."""

from __future__ import annotations

import orjson

from tasks.jobs.record import new_record_fields
from tasks.webhooks.model import delivery_body, render_body


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


def test_an_operational_event_renders_from_its_data_the_same_every_time() -> None:
    fields = {"event": "endpoint.disabled", "created_at": "1796000000.250000",
              "data": '{"endpoint_id":"wh_1","last_status_code":410,"job_id":null}'}
    body = delivery_body(fields)
    assert body == delivery_body(dict(fields))
    assert orjson.loads(body) == {
        "type": "endpoint.disabled", "timestamp": "2026-11-30T00:53:20.250000+00:00",
        "data": {"endpoint_id": "wh_1", "last_status_code": 410, "job_id": None}}
