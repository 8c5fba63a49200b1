"""Redis down: 503 with Retry-After within the bounded timeout, never a 500 or a hang;
the gateway and worker recover by themselves when it returns."""

from __future__ import annotations

import time

from tests.support.helpers import submit_sum, wait_for_status
from tests.support.launcher import Launcher
from tests.support.servers import wait_until


def test_redis_down_then_back(launch: Launcher) -> None:
    stack = launch.stack("outage-worker", REDIS_TIMEOUT_SECONDS="1")
    redis_server = stack.redis
    with stack.client(timeout=15) as client:
        before = submit_sum(client, 10)
        assert wait_for_status(client, before)["result"] == 55

        redis_server.stop()
        for method, path, body in (
            ("POST", "/producer/api/sum", {"number": 3}),
            ("GET", f"/producer/api/sum/{before}", None),
            ("GET", f"/producer/api/jobs/{before}", None),
            ("DELETE", f"/producer/api/jobs/{before}", None),
        ):
            started = time.monotonic()
            r = client.request(method, path, json=body)
            assert r.status_code == 503, (path, r.text)
            assert r.headers["retry-after"].isdigit()
            assert r.json()["error"] == "UNAVAILABLE"
            assert time.monotonic() - started < 10
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["redis"] != "ok"

        redis_server.start()  # same port, same data directory (append-only file)

        def healthy() -> bool:
            return client.get("/healthz").status_code == 200

        wait_until(healthy, 40, "gateway and worker healthy again", interval=0.5)
        assert wait_for_status(client, before)["result"] == 55  # the record survived
        after = submit_sum(client, 4)
        assert wait_for_status(client, after, timeout=40)["result"] == 10
