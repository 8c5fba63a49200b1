"""What progress reports cost a job: sum_to_n_job(50,000,000), which calls progress() every
1,000,000 numbers (written at most once per PROGRESS_INTERVAL_MS), against the same loop
with no progress call (bench/progress_functions.py), run by the same one-process worker in
interleaved rounds (the order alternates). A run's time is its record's finished_at -
started_at: the worker's own clock, without the queue or the polling."""

from __future__ import annotations

import time
from typing import Any

import httpx

from bench.config import Config
from bench.procs import Processes, RedisHandle
from bench.scenarios import API, TERMINAL, Log, start_gateway, start_our_worker
from bench.stats import paired, spread
from tasks.jobs.functions import SUM
from tasks.redis.keys import job_key
from tasks.settings import Settings

NUMBER = 50_000_000
PLAIN = "sum_to_n_plain"
FUNCTIONS = {"with_progress": SUM, "without_progress": PLAIN}
SETTINGS = {"EXTRA_FUNCTION_MODULES": '["bench.progress_functions"]'}


def progress_phase(procs: Processes, cfg: Config, log: Log) -> dict[str, Any]:
    log(f"phase E: sum_to_n_job({NUMBER:,}) with and without progress reports, "
        f"{cfg.progress_rounds} interleaved rounds")
    redis = procs.redis("progress")
    gateway = start_gateway(procs, "gateway-progress", redis, 1, **SETTINGS)
    start_our_worker(procs, "worker-progress", redis, 1, **SETTINGS)
    seconds: dict[str, list[float]] = {side: [] for side in FUNCTIONS}
    reports: list[float] = []
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        for round_ in range(cfg.progress_rounds):
            sides = list(FUNCTIONS) if round_ % 2 == 0 else list(reversed(FUNCTIONS))
            for side in sides:
                took, written = run_once(http, redis, FUNCTIONS[side])
                seconds[side].append(took)
                if side == "with_progress":
                    reports.append(written)
            log(f"  round {round_ + 1}/{cfg.progress_rounds}: with progress "
                f"{seconds['with_progress'][-1]:.3f} s ({reports[-1]:.0f} reports written), "
                f"without {seconds['without_progress'][-1]:.3f} s")
    return {
        "number": NUMBER,
        "interval_ms": Settings.model_fields["progress_interval_ms"].default,
        "with_progress_s": spread(seconds["with_progress"]).as_dict(),
        "without_progress_s": spread(seconds["without_progress"]).as_dict(),
        "reports_written": spread(reports).as_dict(),
        "ratio": paired(seconds["with_progress"], seconds["without_progress"]),
    }


def run_once(http: httpx.Client, redis: RedisHandle, function: str) -> tuple[float, float]:
    """Submit one sum, wait for its end; its run time in seconds and reports written."""
    r = http.post(f"{API}/jobs", json={"function": function, "input": {"number": NUMBER}})
    r.raise_for_status()
    key = job_key(r.json()["id"])
    client = redis.client()
    deadline = time.monotonic() + 300
    while client.hget(key, "status") not in TERMINAL:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{function}({NUMBER}) did not end within 300 s")
        time.sleep(0.05)  # pacing the polls: the worker needs the CPU
    status, result, started, finished, seq = client.hmget(
        key, "status", "result", "started_at", "finished_at", "progress_seq")
    if status != b"SUCCEEDED" or int(result or 0) != NUMBER * (NUMBER + 1) // 2:
        raise RuntimeError(f"{function}({NUMBER}) ended {status!r} with {result!r}")
    return float(finished or 0) - float(started or 0), float(seq or 0)
