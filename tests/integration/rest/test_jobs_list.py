"""GET /producer/api/jobs: the REST face of the job listing (the same service and cursors as
GraphQL's `jobs`), filters read from their own index, bad query input as 422, and each
tenant's jobs only. A gateway with two API keys and no worker: jobs stay where put."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tasks.jobs.record import JobStatus
from tests.support.graphql_helpers import data
from tests.support.job_index import clear_indexes, create_jobs, end_jobs
from tests.support.launcher import Launcher, Stack

ALPHA = "alpha-key-0123456789abcdef"
BETA = "beta-key-0123456789abcdef"
JOBS = "/producer/api/jobs"
GQL_JOBS = """query($status: JobStatus, $first: Int) {
  jobs(status: $status, first: $first) { pageInfo { endCursor } } }"""


@pytest.fixture(scope="module")
def keyed(module_launch: Launcher) -> Stack:
    return module_launch.stack(worker=None, API_KEYS=f"alpha:{ALPHA},beta:{BETA}")


def as_(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def listing(c: httpx.Client, key: str = ALPHA, **params: Any) -> dict[str, Any]:
    r = c.get(JOBS, params={k: v for k, v in params.items() if v is not None},
              headers=as_(key))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def walk(c: httpx.Client, first: int, key: str = ALPHA, **filters: Any) -> list[str]:
    ids: list[str] = []
    after = None
    for _ in range(1000):
        body = listing(c, key, first=first, after=after, **filters)
        ids += [job["id"] for job in body["data"]]
        if not body["has_next_page"]:
            return ids
        after = body["next_cursor"]
    raise AssertionError("pagination did not end")


def test_filters_pages_and_tenants(keyed: Stack) -> None:
    r = keyed.redis.client()
    clear_indexes(r, "alpha")
    clear_indexes(r, "beta")
    sums = create_jobs(keyed.redis.url, 5_000, tenant="alpha")
    waits = create_jobs(keyed.redis.url, 3, "wait_and_return", tenant="alpha")
    failed = sums[::1000]  # 5
    end_jobs(r, failed, JobStatus.FAILED)
    with keyed.client() as c:
        first = listing(c, status="FAILED", first=3)
        assert [j["id"] for j in first["data"]] == list(reversed(failed))[:3]
        assert first["has_next_page"] and {j["status"] for j in first["data"]} == {"FAILED"}
        rest = listing(c, status="FAILED", first=3, after=first["next_cursor"])
        assert [j["id"] for j in rest["data"]] == list(reversed(failed))[3:]
        assert not rest["has_next_page"]
        assert walk(c, 2, function="wait_and_return") == list(reversed(waits))
        assert walk(c, 2, status="QUEUED", function="wait_and_return") == list(reversed(waits))
        assert walk(c, 4, status="FAILED", function="sum_to_n_job") == list(reversed(failed))
        assert listing(c)["data"][0]["id"] == waits[-1]
        # One cursor for both faces: GraphQL's endCursor continues a REST listing.
        gql = data(httpx.Client(base_url=keyed.gateway.url, headers=as_(ALPHA)), GQL_JOBS,
                   {"status": "FAILED", "first": 2})["jobs"]["pageInfo"]["endCursor"]
        after = listing(c, status="FAILED", first=10, after=gql)
        assert [j["id"] for j in after["data"]] == list(reversed(failed))[2:]
        # Another tenant lists none of these, whatever it asks.
        assert listing(c, BETA)["data"] == []
        assert listing(c, BETA, status="FAILED")["data"] == []
        assert listing(c, BETA, function="sum_to_n_job", status="QUEUED")["data"] == []
        assert c.get(JOBS).status_code == 401


@pytest.mark.parametrize(("params", "words"), [
    ({"status": "DONE"}, ("status", "unknown status 'DONE'", "FAILED")),
    ({"status": "failed"}, ("status", "unknown status")),
    ({"status": "x" * 21}, ("status", "at most 20")),
    ({"function": "nope"}, ("function", "unknown function 'nope'", "sum_to_n_job")),
    ({"first": "0"}, ("first", "between 1 and 100")),
    ({"first": "101"}, ("first", "(got 101)")),
    ({"first": "abc"}, ("first", "integer")),
    ({"first": str(2**70)}, ("first", "between 1 and 100")),
    ({"after": "not-a-cursor"}, ("after", "not a cursor")),
    ({"after": "MXx4"}, ("after", "not a cursor")),
    ({"after": "x" * 201}, ("after", "at most 200")),
], ids=lambda v: str(v)[:30])
def test_bad_query_input_is_422(keyed: Stack, params: dict[str, str],
                                words: tuple[str, ...]) -> None:
    with keyed.client() as c:
        r = c.get(JOBS, params=params, headers=as_(ALPHA))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "BAD_USER_INPUT", body
    for word in words:
        assert word in body["message"], (word, body)
