"""Short jobs beside a long one (issue 16, part 3): `python -m worker` with its defaults for
both queues (tasks/queues.py) and one pool process per queue drains trivial jobs from the
short queue while a `wait_and_return` runs on the long queue the whole time, against bare
Celery (one pool process, its default prefetch of 4, the same broker setup) draining the
same number of the same trivial jobs; and, to tell what the long queue costs from what a
job costs, the same worker's short queue alone (`-Q short`, no long job). Rounds
interleave, the order alternating; each is a drain of a prefilled queue as in phase B
(bench/scenarios.py)."""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx

from bench.config import Config
from bench.procs import Processes, RedisHandle, wait_until
from bench.scenarios import (
    API,
    HOLD_QUEUE,
    Log,
    _bare_drain,
    _ours_drain,
    start_bare_worker,
    start_gateway,
    start_our_worker,
)
from bench.stats import paired, spread
from tasks.jobs.functions import WAIT
from tasks.redis.keys import job_key
from tasks.settings import Settings

# As long as a job may be (WAIT_MAX_SECONDS): it outlasts the rounds, then is cancelled.
LONG_SECONDS = Settings.model_fields["wait_max_seconds"].default


def queues_phase(procs: Processes, cfg: Config, log: Log) -> dict[str, Any]:
    log(f"phase Q: {cfg.e2e_jobs} short jobs while a long job runs on the long queue (one "
        f"pool process per queue) vs bare Celery (one pool process), {cfg.runs} rounds")
    redis, alone_redis = procs.redis("queues"), procs.redis("queues-alone")
    bare_redis = procs.redis("queues-bare")
    prefill = start_gateway(procs, "gateway-queues-prefill", redis, 1, HOLD_QUEUE)
    alone_prefill = start_gateway(procs, "gateway-queues-alone-prefill", alone_redis, 1,
                                  HOLD_QUEUE)
    live = start_gateway(procs, "gateway-queues", redis, 1)
    start_our_worker(procs, "queues-c1", redis, 1, queues="short,long")
    start_our_worker(procs, "queues-alone-c1", alone_redis, 1)
    start_bare_worker(procs, "queues-bare-c1", bare_redis, 1)
    drains = {"ours": partial(_ours_drain, prefill, redis, cfg.e2e_jobs, held=1),
              "alone": partial(_ours_drain, alone_prefill, alone_redis, cfg.e2e_jobs),
              "bare": partial(_bare_drain, bare_redis, cfg.e2e_jobs)}
    rates: dict[str, list[float]] = {side: [] for side in drains}
    with httpx.Client(base_url=live.url, timeout=30) as http:
        r = http.post(f"{API}/{WAIT}", json={"seconds": LONG_SECONDS})
        r.raise_for_status()
        long_job = r.json()["job_id"]
        wait_started(redis, long_job)
        for round_ in range(cfg.runs):
            sides = list(drains) if round_ % 2 == 0 else list(reversed(drains))
            for side in sides:
                result = drains[side]()
                if result["failed"]:
                    raise RuntimeError(f"{result['failed']} {side} jobs failed")
                rates[side].append(result["jobs_per_s"])
            if redis.client().hget(job_key(long_job), "status") != b"STARTED":
                raise RuntimeError("the long job was not running for the whole round")
            log(f"  round {round_ + 1}/{cfg.runs}: ours {rates['ours'][-1]:,.0f} jobs/s "
                f"beside the long job, {rates['alone'][-1]:,.0f} with the short queue alone, "
                f"bare Celery {rates['bare'][-1]:,.0f}")
        http.delete(f"{API}/jobs/{long_job}").raise_for_status()
    return {"jobs": cfg.e2e_jobs, "long_seconds": LONG_SECONDS,
            "settings": {"WORKER_CONCURRENCY": 1, "queues": "short,long (defaults)"},
            "ours_jobs_per_s": spread(rates["ours"]).as_dict(),
            "alone_jobs_per_s": spread(rates["alone"]).as_dict(),
            "bare_jobs_per_s": spread(rates["bare"]).as_dict(),
            "ratio": paired(rates["ours"], rates["bare"]),
            "beside_over_alone": paired(rates["ours"], rates["alone"])}


def wait_started(redis: RedisHandle, job_id: str) -> None:
    client = redis.client()
    if not wait_until(lambda: client.hget(job_key(job_id), "status") == b"STARTED", 60):
        raise RuntimeError(f"the long job {job_id} did not start within 60 s")
