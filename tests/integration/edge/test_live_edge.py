"""Live jobs through `make up`'s stack (NGINX in front, with the stack's own settings): a
long poll answered as soon as its job ends, and a job's Server-Sent Events passed on by
NGINX as they happen, not held back until the stream ends. (Another tenant's stream and
live list: test_tenants.py.)"""

from __future__ import annotations

import time

from tests.support.edge import EdgeStack
from tests.support.helpers import job, submit_wait
from tests.support.sse import EVENTS_PATH, read_events


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
