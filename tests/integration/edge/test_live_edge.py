"""Live jobs through `make up`'s stack (NGINX in front, with the stack's own settings): a
long poll answered as soon as its job ends, a job's Server-Sent Events passed on by NGINX
as they happen, not held back until the stream ends, and a long sum's progress on every
face. (Another tenant's stream and live list: test_tenants.py.)"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from tests.support.edge import EdgeStack
from tests.support.graphql_helpers import request
from tests.support.helpers import job, submit_sum, submit_wait
from tests.support.sse import EVENTS_PATH, read_events

FOLLOW = ("subscription($id: ID!) { jobUpdated(id: $id) { status result "
          "progress { done total fraction } } }")


def test_a_long_poll_through_nginx_answers_when_the_job_ends(edge: EdgeStack) -> None:
    with edge.client() as http:
        job_id = submit_wait(http, 1.0)  # ends about a second from now
        started = time.monotonic()
        r = http.get(f"/producer/api/wait_and_return/{job_id}", params={"wait": 10})
        took = time.monotonic() - started
    assert r.status_code == 200, r.text
    assert r.json() == {"ready": True, "result": "Hello World!", "job_id": job_id,
                        "status": "SUCCEEDED", "error": None}
    assert took < 8, took  # when the job ended, well before the wait was over


def test_events_through_nginx_arrive_as_they_happen(edge: EdgeStack) -> None:
    with edge.client() as http:
        job_id = submit_wait(http, 3.0)
        with http.stream("GET", EVENTS_PATH.format(id=job_id)) as r:
            assert r.status_code == 200, r.read()
            assert r.headers["content-type"].startswith("text/event-stream")
            events = read_events(r.iter_lines())
            first = next(events)
            # The job still runs as its first event arrives: NGINX passed it on at once.
            assert first.json()["status"] in ("QUEUED", "STARTED")
            assert job(http, job_id)["status"] in ("QUEUED", "STARTED")
            rest = list(events)
        assert rest[-1].json()["status"] == "SUCCEEDED"
        assert rest[-1].data == http.get(f"/producer/api/jobs/{job_id}").text
    assert rest[-1].at - first.at > 1.0  # seconds apart, as the job ran


def increasing(values: list[float]) -> list[float]:
    """The distinct values in the order seen; they must only grow."""
    distinct = [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]
    assert distinct == sorted(distinct), distinct
    return distinct


def test_a_long_sum_reports_progress_on_every_face(edge: EdgeStack) -> None:
    """The issue's check: sum_to_n_job(50000000) shows at least 5 increasing progress
    values over GraphQL (jobUpdated), over SSE and on the polled record, all through NGINX."""
    seen: dict[str, list[float]] = {"graphql": [], "sse": [], "record": []}
    with edge.client() as http:
        job_id = submit_sum(http, 50_000_000)

        async def subscribe() -> None:
            async with edge.graphql_ws() as session:
                async for event in session.subscribe(request(FOLLOW, id=job_id)):
                    update: dict[str, Any] = event["jobUpdated"]
                    if update["progress"]:
                        seen["graphql"].append(update["progress"]["done"])
                    seen.setdefault("graphql_last", []).append(update["result"])

        def stream() -> None:
            with edge.client(timeout=120) as sse, \
                    sse.stream("GET", EVENTS_PATH.format(id=job_id)) as r:
                for event in read_events(r.iter_lines()):
                    if event.json()["progress"]:
                        seen["sse"].append(event.json()["progress"]["done"])

        threads = [threading.Thread(target=lambda: asyncio.run(
            asyncio.wait_for(subscribe(), 120))), threading.Thread(target=stream)]
        for thread in threads:
            thread.start()
        while job(http, job_id)["status"] not in ("SUCCEEDED", "FAILED"):
            record = http.get(f"/producer/api/jobs/{job_id}").json()
            if record["progress"]:
                seen["record"].append(record["progress"]["done"])
            time.sleep(0.05)
        for thread in threads:
            thread.join(120)
        final = http.get(f"/producer/api/jobs/{job_id}").json()
    assert final["result"] == 1250000025000000
    assert final["progress"]["done"] == final["progress"]["total"] == 50_000_000
    for face in ("graphql", "sse", "record"):
        assert len(increasing(seen[face])) >= 5, (face, seen[face])
    assert seen["graphql_last"][-1] == 1250000025000000
