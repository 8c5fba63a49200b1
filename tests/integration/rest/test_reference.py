"""Every route and shape of the reference's REST contract, plus the new job routes."""

from __future__ import annotations

import uuid

import httpx

from tests.support.helpers import job, submit_sum, submit_wait, wait_for_status


def test_hello(client: httpx.Client) -> None:
    r = client.get("/producer/api/")
    assert r.status_code == 200
    assert r.json() == {"message": "Hello World, this is a route from the producer or job master"}


def test_sum_round_trip_shapes(client: httpx.Client) -> None:
    r = client.post("/producer/api/sum", json={"number": 10})
    assert r.status_code == 200
    body = r.json()
    assert body["message"] == "job published"
    uuid.UUID(body["job_id"])
    wait_for_status(client, body["job_id"])
    poll = client.get(f"/producer/api/sum/{body['job_id']}").json()
    assert poll["ready"] is True and poll["result"] == 55
    assert poll["status"] == "SUCCEEDED"


def test_sum_of_reference_load_top_is_exact(client: httpx.Client) -> None:
    job_id = submit_sum(client, 50_000_000)
    record = wait_for_status(client, job_id, timeout=60)
    assert record["result"] == 1250000025000000
    r = client.get(f"/producer/api/sum/{job_id}")
    assert '"result":1250000025000000' in r.text  # an exact JSON integer, not a float


def test_poll_before_done_is_not_ready(client: httpx.Client) -> None:
    job_id = submit_wait(client, 1.0)
    poll = client.get(f"/producer/api/wait_and_return/{job_id}").json()
    assert poll["ready"] is False and poll["result"] is None
    assert poll["status"] in {"QUEUED", "STARTED"}
    wait_for_status(client, job_id)
    poll = client.get(f"/producer/api/wait_and_return/{job_id}").json()
    assert poll == {"ready": True, "result": "Hello World!", "job_id": job_id,
                    "status": "SUCCEEDED", "error": None}


def test_bodiless_get_queues_with_default_20_seconds(client: httpx.Client) -> None:
    r = client.get("/producer/api/wait_and_return")
    assert r.status_code == 200
    job_id = r.json()["job_id"]
    assert r.json()["message"] == "job published"
    assert job(client, job_id)["input"] == {"seconds": 20.0}
    assert client.delete(f"/producer/api/jobs/{job_id}").status_code == 200  # free the worker


def test_post_wait_without_body_takes_default(client: httpx.Client) -> None:
    r = client.post("/producer/api/wait_and_return")
    assert r.status_code == 200, r.text
    job_id = r.json()["job_id"]
    assert job(client, job_id)["input"] == {"seconds": 20.0}
    client.delete(f"/producer/api/jobs/{job_id}")


def test_full_record(client: httpx.Client) -> None:
    job_id = submit_sum(client, 3)
    record = wait_for_status(client, job_id)
    assert record["id"] == job_id
    assert record["function"] == "sum_to_n_job"
    assert record["input"] == {"number": 3}
    assert record["result"] == 6 and record["error"] is None
    assert record["attempts"] == 1
    assert record["created_at"] <= record["started_at"] <= record["finished_at"]
    assert record["callback_url"] is None


def test_unknown_ids_are_404(client: httpx.Client) -> None:
    for path in (f"/producer/api/sum/{uuid.uuid4()}",
                 f"/producer/api/wait_and_return/{uuid.uuid4()}",
                 f"/producer/api/jobs/{uuid.uuid4()}",
                 "/producer/api/jobs/not-a-uuid",
                 "/producer/api/sum/..%2F..%2Fetc"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"] == "NOT_FOUND"
    assert client.delete(f"/producer/api/jobs/{uuid.uuid4()}").status_code == 404


def test_job_polled_under_other_function_is_404(client: httpx.Client) -> None:
    job_id = submit_sum(client, 5)
    assert client.get(f"/producer/api/wait_and_return/{job_id}").status_code == 404
    assert client.get(f"/producer/api/sum/{job_id}").status_code == 200


def test_generic_submit_and_functions(client: httpx.Client) -> None:
    r = client.post("/producer/api/jobs", json={"function": "sum_to_n_job",
                                                "input": {"number": 4}})
    assert r.status_code == 202, r.text
    assert r.headers["location"].endswith(r.json()["id"])
    assert wait_for_status(client, r.json()["id"])["result"] == 10
    functions = {f["name"]: f for f in client.get("/producer/api/functions").json()}
    assert set(functions) == {"wait_and_return", "sum_to_n_job"}
    assert functions["sum_to_n_job"]["input_schema"]["properties"]["number"]["maximum"] > 0


def test_openapi_docs(client: httpx.Client) -> None:
    docs = client.get("/producer/api/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = client.get("/producer/api/openapi.json").json()
    assert "/producer/api/sum" in spec["paths"]


def test_healthz_reports_redis_and_workers(client: httpx.Client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["redis"] == "ok" and r.json()["workers"] >= 1
