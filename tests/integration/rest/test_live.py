"""Live jobs over REST, against a real Redis, worker and gateway with API keys on (two
tenants): a job's Server-Sent Events (its record first, each change, the end after the
final status; a 404 before any stream for an unknown id, a bad one and another tenant's
job) and long polling (`?wait=` on the three poll routes answers when the job ends, or
when the wait is over with the state then; without it the answer is unchanged). A gateway
of their own shows the bound on open streams, the keep-alive comments, and a stopping
gateway ending its streams and answering its long polls."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.support.helpers import job, submit_sum, submit_wait, wait_for_status
from tests.support.launcher import Launcher, Stack
from tests.support.servers import Gateway, wait_until
from tests.support.sse import EVENTS_PATH, job_events, read_events

ALPHA = "alpha-live-key-0123456789"
BETA = "beta-live-key-0123456789"
ORDER = ["QUEUED", "STARTED", "RETRYING", "SUCCEEDED", "FAILED", "CANCELLED"]
API = "/producer/api"


@pytest.fixture(scope="module")
def keyed(module_launch: Launcher) -> Stack:
    return module_launch.stack("live-worker", API_KEYS=f"alpha:{ALPHA},beta:{BETA}")


def client(url: str, key: str = ALPHA, timeout: float = 30) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=timeout, headers={"X-API-Key": key})


@pytest.fixture()
def alpha(keyed: Stack) -> Iterator[httpx.Client]:
    with client(keyed.url) as http:
        yield http


def test_events_give_the_record_then_each_change_then_end(alpha: httpx.Client) -> None:
    job_id = submit_wait(alpha, 1.0)
    events = job_events(alpha, job_id)
    assert {e.name for e in events} == {"message"}
    # A running job's progress reports come as records of the same status.
    statuses = [status for i, status in enumerate(e.json()["status"] for e in events)
                if i == 0 or status != events[i - 1].json()["status"]]
    assert statuses[0] in ("QUEUED", "STARTED") and statuses[-1] == "SUCCEEDED", statuses
    assert "STARTED" in statuses
    assert statuses == sorted(set(statuses), key=ORDER.index), statuses  # each once, in order
    # The same JSON as GET /jobs/{id}, byte for byte.
    assert events[-1].data == alpha.get(f"{API}/jobs/{job_id}").text
    assert events[-1].json()["result"] == "Hello World!"


def test_events_of_an_ended_job_are_its_record_alone(alpha: httpx.Client) -> None:
    job_id = submit_sum(alpha, 10)
    record = wait_for_status(alpha, job_id)
    events = job_events(alpha, job_id)
    assert [e.json() for e in events] == [record]


def test_events_of_an_unknown_or_foreign_job_are_404_before_any_stream(
        keyed: Stack, alpha: httpx.Client) -> None:
    theirs = submit_sum(alpha, 10)
    with client(keyed.url, BETA) as beta:
        for job_id in (theirs, "00000000-0000-4000-8000-000000000000", "not-a-job", "é" * 40):
            r = beta.get(EVENTS_PATH.format(id=job_id))
            plain = beta.get(f"{API}/jobs/{job_id}")
            assert r.status_code == plain.status_code == 404, r.text
            assert r.headers["content-type"] == "application/json"
            assert r.json() == plain.json() and r.json()["error"] == "NOT_FOUND"
    with client(keyed.url, "wrong-key-0123456789") as stranger:
        assert stranger.get(EVENTS_PATH.format(id=theirs)).status_code == 401


@pytest.mark.parametrize("route", ["wait_and_return", "jobs", "sum"])
def test_a_long_poll_answers_when_the_job_ends(alpha: httpx.Client, route: str) -> None:
    # Each job ends about a second after its submit.
    job_id = submit_sum(alpha, 20_000_000) if route == "sum" else submit_wait(alpha, 1.0)
    started = time.monotonic()
    r = alpha.get(f"{API}/{route}/{job_id}", params={"wait": 10})
    took = time.monotonic() - started
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["status"] == "SUCCEEDED"
    assert answer["result"] == (200000010000000 if route == "sum" else "Hello World!")
    assert took < 8, took  # answered when the job ended, well before the wait was over
    # The same answer as a poll without waiting, now that it has ended.
    assert r.content == alpha.get(f"{API}/{route}/{job_id}").content


def test_a_long_poll_answers_with_the_state_when_the_wait_is_over(
        alpha: httpx.Client) -> None:
    job_id = submit_wait(alpha, 5.0)
    try:
        started = time.monotonic()
        answer = alpha.get(f"{API}/wait_and_return/{job_id}", params={"wait": 0.5}).json()
        assert time.monotonic() - started >= 0.45  # it did wait
        assert answer["ready"] is False and answer["status"] in ("QUEUED", "STARTED")
        # wait=0: no waiting at all.
        assert alpha.get(f"{API}/jobs/{job_id}", params={"wait": 0}).json()["id"] == job_id
    finally:
        alpha.delete(f"{API}/jobs/{job_id}")


def test_a_long_poll_of_a_cancelled_job_answers_at_the_cancel(
        keyed: Stack, alpha: httpx.Client) -> None:
    job_id = submit_wait(alpha, 20.0)

    def cancel() -> None:
        with client(keyed.url) as other:
            other.delete(f"{API}/jobs/{job_id}")

    canceller = threading.Timer(0.5, cancel)
    canceller.start()
    answer = alpha.get(f"{API}/wait_and_return/{job_id}", params={"wait": 15}).json()
    canceller.join()
    assert answer["status"] == "CANCELLED" and answer["ready"] is True


def test_a_long_poll_of_a_foreign_job_is_404(keyed: Stack, alpha: httpx.Client) -> None:
    theirs = submit_wait(alpha, 1.0)
    with client(keyed.url, BETA) as beta:
        for route in ("sum", "wait_and_return", "jobs"):
            r = beta.get(f"{API}/{route}/{theirs}", params={"wait": 5})
            assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND", r.text
    # A poll under another function's route is 404 as well, waiting or not.
    assert alpha.get(f"{API}/sum/{theirs}", params={"wait": 5}).status_code == 404


def test_without_wait_the_poll_is_unchanged(alpha: httpx.Client) -> None:
    job_id = submit_sum(alpha, 10)
    wait_for_status(alpha, job_id)
    r = alpha.get(f"{API}/sum/{job_id}")
    assert r.content == orjson.dumps({"ready": True, "result": 55, "job_id": job_id,
                                      "status": "SUCCEEDED", "error": None})
    assert r.headers["content-type"] == "application/json"
    assert r.content == alpha.get(f"{API}/sum/{job_id}", params={"wait": 0}).content
    assert alpha.get(f"{API}/jobs/{job_id}").json() == job(alpha, job_id)


@pytest.fixture()
def small(keyed: Stack, launch: Launcher) -> Gateway:
    """A gateway of its own on the same Redis and worker: two streams at most, and a
    keep-alive comment after 0.1 s of silence (wait_and_return reports progress every
    0.25 s)."""
    return launch.gateway({**keyed.env, "EVENT_STREAMS_MAX": "2",
                           "EVENT_STREAM_KEEPALIVE_SECONDS": "0.1"})


def test_streams_are_bounded_and_kept_alive(small: Gateway, alpha: httpx.Client) -> None:
    job_id = submit_wait(alpha, 20.0)
    try:
        with client(small.url) as http, \
                http.stream("GET", EVENTS_PATH.format(id=job_id)) as first, \
                http.stream("GET", EVENTS_PATH.format(id=job_id)) as second:
            assert first.status_code == second.status_code == 200
            for refused in (http.get(EVENTS_PATH.format(id=job_id)),
                            http.get(f"{API}/jobs/{job_id}", params={"wait": 5})):
                assert refused.status_code == 503, refused.text
                assert refused.json()["error"] == "UNAVAILABLE"
                assert "EVENT_STREAMS_MAX" in refused.json()["message"]
                assert refused.headers["retry-after"] == "1"
            # Silence is broken by comment lines, so that no proxy cuts the stream.
            comments: list[str] = []
            lines = first.iter_lines()
            events = read_events(lines, comments)
            assert next(events).json()["id"] == job_id
            # Between two progress reports (0.25 s apart) the stream is silent 0.1 s.
            assert ": keep-alive" in itertools.islice(lines, 20)
            first.close()  # the client leaves: its slot is given back
            wait_until(lambda: http.get(f"{API}/jobs/{job_id}", params={"wait": 0.1})
                       .status_code == 200, 10, "the slot of a closed stream")
            alpha.delete(f"{API}/jobs/{job_id}")
            ended = [e.json()["status"] for e in read_events(second.iter_lines())]
            assert ended[-1] == "CANCELLED"
    finally:
        alpha.delete(f"{API}/jobs/{job_id}")


def test_a_stopping_gateway_ends_its_streams_and_answers_its_long_polls(
        keyed: Stack, launch: Launcher, alpha: httpx.Client) -> None:
    gateway = launch.gateway(keyed.env)
    job_id = submit_wait(alpha, 20.0)
    got: dict[str, Any] = {}

    def stream() -> None:
        with client(gateway.url) as http, http.stream(
                "GET", EVENTS_PATH.format(id=job_id)) as r:
            got["events"] = [e.json()["status"] for e in read_events(r.iter_lines())]

    def long_poll() -> None:
        with client(gateway.url) as http:
            got["poll"] = http.get(f"{API}/wait_and_return/{job_id}", params={"wait": 30})

    threads = [threading.Thread(target=f) for f in (stream, long_poll)]
    try:
        wait_for_status(alpha, job_id, {"STARTED"})
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # both are held now
        started = time.monotonic()
        gateway.signal_group(signal.SIGTERM)
        for thread in threads:
            thread.join(15)
        assert gateway.proc is not None  # uvicorn ends by the signal it was sent
        assert gateway.proc.wait(15) in (0, -signal.SIGTERM)
        stopped = time.monotonic() - started
    finally:
        alpha.delete(f"{API}/jobs/{job_id}")
    # Ended without a final status (a client reconnects); progress reports are STARTED too.
    assert set(got["events"]) == {"STARTED"}, got["events"]
    assert got["poll"].status_code == 200 and got["poll"].json()["status"] == "STARTED"
    assert stopped < 10, stopped  # not held until the wait was over
