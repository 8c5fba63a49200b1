"""The noisy-neighbour scenario of `bench/webhooks_bench.py`: a healthy receiver's lag from
each job's end (`finished_at`, the terminal transition) to its webhook's arrival, with
another destination hanging, next to the same figure with nothing hanging.

One round: HEALTHY_JOBS jobs with callbacks to the healthy receiver at HEALTHY_RATE through
the real gateway, Celery worker and dispatcher, alone; then the same after BACKLOG
deliveries were queued for a second receiver (another origin, so another destination)
that hangs: it answers nothing until released, longer than the request timeout. Then it
is released, and the round waits until every backlog message was answered (none lost).
The hanging receiver's most requests open at once is kept: the per-destination cap.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import httpx
import uvloop

from bench.stats import percentile, spread
from tests.support.servers import Gateway, RedisServer

HEALTHY_JOBS = 100
HEALTHY_RATE = 60.0  # jobs per second, as the issue tried it
BACKLOG = 300  # deliveries queued for the hanging receiver
WAIT_SECONDS = 300.0  # long enough for a version without isolation to get through


class Receiver(Protocol):
    def url(self, path: str) -> str: ...
    def stats(self) -> dict[str, Any]: ...
    def reset(self) -> None: ...
    def wait_arrivals(self, job_ids: Any, timeout: float) -> dict[str, float]: ...


class Submit(Protocol):
    async def __call__(self, gateway_url: str, callback: str, rate: float,
                       seconds: float) -> dict[str, float]: ...


def healthy_lags(gateway: Gateway, redis_server: RedisServer, healthy: Receiver,
                 submit: Submit) -> dict[str, float]:
    """Lag (ms) from each healthy job's end to its webhook's arrival."""
    healthy.reset()
    sent = uvloop.run(submit(gateway.url, healthy.url("/latency"), HEALTHY_RATE,
                             HEALTHY_JOBS / HEALTHY_RATE))
    arrivals = healthy.wait_arrivals(sent, WAIT_SECONDS)
    with redis_server.client().pipeline(transaction=False) as pipe:
        for job_id in sent:
            pipe.hget(f"gw:job:{job_id}", "finished_at")
        finished = [float(f) for f in pipe.execute()]
    lags = [1000 * (arrivals[job_id] - end) for job_id, end in zip(sent, finished, strict=True)]
    return {"jobs": len(lags), "p50_ms": percentile(lags, 50), "p99_ms": percentile(lags, 99),
            "max_ms": max(lags)}


def one_round(gateway: Gateway, redis_server: RedisServer, healthy: Receiver,
              hanging: Receiver, submit: Submit, queue: Any) -> dict[str, Any]:
    """`queue(redis_server, count, url)` makes `count` deliveries to `url`."""
    alone = healthy_lags(gateway, redis_server, healthy, submit)
    hanging.reset()
    httpx.post(hanging.url("/hold"), timeout=10)
    queue(redis_server, BACKLOG, hanging.url("/hang"))
    deadline = time.monotonic() + 30
    while hanging.stats()["in_flight"] == 0:  # the backlog is being tried, and hangs
        if time.monotonic() > deadline:
            raise RuntimeError("no attempt reached the hanging receiver")
        time.sleep(0.02)
    noisy = healthy_lags(gateway, redis_server, healthy, submit)
    held = hanging.stats()
    httpx.post(hanging.url("/release"), timeout=10)
    released = time.monotonic()
    while hanging.stats()["answered"] < BACKLOG:
        if time.monotonic() - released > WAIT_SECONDS:
            raise RuntimeError(f"the hanging receiver got {hanging.stats()['answered']} of "
                               f"{BACKLOG} messages after its release")
        time.sleep(0.05)
    return {"alone": alone, "while_other_hangs": noisy,
            "hanging_max_in_flight": held["max_in_flight"],
            "backlog_drained_s": time.monotonic() - released}


def summary(rounds: list[dict[str, Any]], per_destination: int) -> dict[str, Any]:
    return {
        "settings": {"healthy_jobs": HEALTHY_JOBS, "healthy_rate": HEALTHY_RATE,
                     "backlog": BACKLOG, "per_destination": per_destination},
        "runs": rounds,
        **{f"{case}_{key}": spread([r[case][key] for r in rounds]).as_dict()
           for case in ("alone", "while_other_hangs") for key in ("p50_ms", "p99_ms")},
        "hanging_max_in_flight": max(r["hanging_max_in_flight"] for r in rounds),
        "backlog_drained_s": spread([r["backlog_drained_s"] for r in rounds]).as_dict(),
    }
