"""Isolation by destination through `make up`'s stack (issue 14's first "done when"), with
the stack's own settings: every request through NGINX, the default cap per destination
(WEBHOOK_MAX_IN_FLIGHT_PER_DESTINATION) and request timeout, the one dispatcher and worker
that `make up` runs, receivers on loopback.

300 jobs with callbacks to a receiver that hangs (longer than the request timeout: it never
answers while held), then 100 jobs at 50/s with callbacks to a healthy one: every healthy
webhook arrives within 2 s (p99) of its job's `finished_at`, and the hanging receiver never
has more than the cap open. That the held messages all arrive once it answers, each once,
is tests/integration/webhooks/test_isolation.py (with a retry schedule short enough to
wait for).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from bench.stats import percentile
from tasks.settings import Settings
from tests.support.counting_receiver import CountingReceiver
from tests.support.edge import EdgeStack
from tests.support.servers import wait_until

API = "/producer/api"
BACKLOG = 300
HEALTHY_JOBS = 100
SUBMIT_RATE = 50.0  # healthy jobs per second
CAP = Settings(_env_file=None).webhook_max_in_flight_per_destination  # the default


@pytest.fixture(scope="module")
def edge() -> Iterator[EdgeStack]:
    stack = EdgeStack("isolation-edge").start()
    try:
        yield stack
    finally:
        stack.stop()


def submit(http: httpx.Client, callback: str) -> str:
    r = http.post(f"{API}/sum", json={"number": 10, "callback_url": callback})
    assert r.status_code == 200, r.text
    return str(r.json()["job_id"])


def test_a_hanging_receiver_delays_no_other_through_the_stack(edge: EdgeStack) -> None:
    hanging = CountingReceiver().start()
    healthy = CountingReceiver().start()
    try:
        hanging.hold()
        with edge.client() as http:
            for _ in range(BACKLOG):
                submit(http, hanging.url())
            hanging.wait_in_flight(CAP)  # the backlog is being tried, and hangs

            submitted: list[str] = []
            start = time.monotonic()
            for n in range(HEALTHY_JOBS):
                time.sleep(max(0.0, start + n / SUBMIT_RATE - time.monotonic()))  # pacing
                submitted.append(submit(http, healthy.url()))
            wait_until(lambda: {a.job_id for a in healthy.snapshot()} >= set(submitted), 60,
                       "every healthy job's webhook", interval=0.05)
            arrived = {a.job_id: a.at for a in healthy.snapshot()}
            finished = {job_id: datetime.fromisoformat(
                http.get(f"{API}/jobs/{job_id}").json()["finished_at"]).timestamp()
                for job_id in submitted}
        lags = [arrived[j] - finished[j] for j in submitted]
        print(f"healthy lag p50 {percentile(lags, 50):.4f} s, p99 {percentile(lags, 99):.4f} s")
        assert percentile(lags, 99) < 2.0, sorted(lags)[-5:]
        assert hanging.in_flight == CAP  # still hanging: the backlog was held all along
    finally:
        hanging.stop()
        healthy.stop()
    assert hanging.max_in_flight == CAP, hanging.max_in_flight
