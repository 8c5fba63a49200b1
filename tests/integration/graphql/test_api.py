"""GraphQL over HTTP against the real stack: every mutation and query, the exact BigInt
result, cancel, the catalog, callbackUrl, and GraphiQL."""

from __future__ import annotations

import httpx

from tests.support.graphql_helpers import (
    CANCEL,
    GET_JOB,
    JOB_FIELDS,
    data,
    only_error,
    post,
    submit_sum,
    submit_wait,
)
from tests.support.helpers import wait_for_status


def test_submit_sum_then_job_shows_the_result(client: httpx.Client) -> None:
    submitted = data(client, "mutation { submitSum(number: 10) { id status input attempts "
                             "createdAt startedAt result } }")["submitSum"]
    assert submitted["status"] == "QUEUED" and submitted["input"] == {"number": 10}
    assert submitted["attempts"] == 0 and submitted["startedAt"] is None
    assert submitted["createdAt"].endswith("+00:00")  # ISO 8601, UTC
    wait_for_status(client, submitted["id"])
    job = data(client, GET_JOB, {"id": submitted["id"]})["job"]
    assert job["status"] == "SUCCEEDED" and job["result"] == 55
    assert job["attempts"] == 1 and job["error"] is None and job["function"] == "sum_to_n_job"
    assert job["createdAt"] <= job["startedAt"] <= job["finishedAt"]


def test_largest_sum_comes_back_exact(client: httpx.Client) -> None:
    # 1250000025000000 is past 2^50: it must come back digit for digit, not as a float.
    job_id = submit_sum(client, "50000000")  # BigInt also takes its digits as a string
    wait_for_status(client, job_id, timeout=90)
    r = client.post("/graphql", json={"query": GET_JOB, "variables": {"id": job_id}})
    assert b'"result":1250000025000000' in r.content
    assert r.json()["data"]["job"]["result"] == 1250000025000000


def test_rest_and_graphql_see_the_same_job(client: httpx.Client) -> None:
    job_id = submit_sum(client, 7)
    rest = wait_for_status(client, job_id)
    job = data(client, GET_JOB, {"id": job_id})["job"]
    assert (job["status"], job["result"], job["input"]) == (rest["status"], rest["result"],
                                                           rest["input"])


def test_submit_job_any_function_with_callback_url(client: httpx.Client) -> None:
    query = f"""mutation($input: JSON!, $url: String) {{
        submitJob(function: "wait_and_return", input: $input, callbackUrl: $url)
        {{ {JOB_FIELDS} }} }}"""
    url = "https://hooks.example.com/jobs?x=1"
    job = data(client, query, {"input": {"seconds": 0.1}, "url": url})["submitJob"]
    assert job["function"] == "wait_and_return" and job["input"] == {"seconds": 0.1}
    assert job["callbackUrl"] == url
    assert wait_for_status(client, job["id"])["callback_url"] == url  # kept on the record
    assert data(client, GET_JOB, {"id": job["id"]})["job"]["result"] == "Hello World!"


def test_submit_wait_and_return_defaults_to_20_seconds(client: httpx.Client) -> None:
    job = data(client, "mutation { submitWaitAndReturn { id input } }")["submitWaitAndReturn"]
    assert job["input"] == {"seconds": 20.0}
    assert data(client, CANCEL, {"id": job["id"]})["cancelJob"]["status"] == "CANCELLED"


def test_cancel_running_again_and_finished(client: httpx.Client) -> None:
    running = submit_wait(client, 20)
    wait_for_status(client, running, {"STARTED"})
    assert data(client, CANCEL, {"id": running})["cancelJob"] == {"id": running,
                                                                  "status": "CANCELLED"}
    # Again: a no-op that still answers the record.
    assert data(client, CANCEL, {"id": running})["cancelJob"]["status"] == "CANCELLED"

    finished = submit_sum(client, 3)
    wait_for_status(client, finished)
    error = only_error(post(client, CANCEL, {"id": finished}))
    assert error["extensions"]["code"] == "CONFLICT" and "SUCCEEDED" in error["message"]
    assert data(client, GET_JOB, {"id": finished})["job"]["status"] == "SUCCEEDED"


def test_cancel_unknown_job_is_not_found(client: httpx.Client) -> None:
    for job_id in ("6f1c1c3e-93a0-4c53-a1a5-0a3f1f0e9a11", "not-an-id"):
        body = post(client, CANCEL, {"id": job_id})
        assert body["data"] == {"cancelJob": None}
        assert only_error(body)["extensions"]["code"] == "NOT_FOUND"


def test_job_is_null_for_an_unknown_id(client: httpx.Client) -> None:
    for job_id in ("6f1c1c3e-93a0-4c53-a1a5-0a3f1f0e9a11", "nope", "x" * 300):
        assert post(client, GET_JOB, {"id": job_id}) == {"data": {"job": None}}


def test_functions_lists_the_catalog_with_input_schemas(client: httpx.Client) -> None:
    functions = data(client, "{ functions { name description inputSchema } }")["functions"]
    by_name = {f["name"]: f for f in functions}
    assert set(by_name) == {"wait_and_return", "sum_to_n_job"}
    schema = by_name["sum_to_n_job"]["inputSchema"]
    assert schema["required"] == ["number"]
    assert schema["properties"]["number"]["maximum"] == 50_000_000
    assert by_name["wait_and_return"]["description"]
    rest = client.get("/producer/api/functions").json()
    assert {f["name"]: f["input_schema"] for f in rest} == {
        name: f["inputSchema"] for name, f in by_name.items()}


def test_queries_over_get(client: httpx.Client) -> None:
    r = client.get("/graphql", params={"query": "{ functions { name } }"})
    assert r.status_code == 200 and len(r.json()["data"]["functions"]) == 2


def test_graphiql_is_served_to_a_browser(client: httpx.Client) -> None:
    r = client.get("/graphql", headers={"accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "graphiql" in r.text.lower()


def test_introspection_is_on_by_default(client: httpx.Client) -> None:
    types = data(client, "{ __schema { types { name } } }")["__schema"]["types"]
    assert {"Job", "JobStatus", "BigInt", "JSON", "JobConnection"} <= {t["name"] for t in types}
