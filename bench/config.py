"""The benchmark's knobs, from BENCH_* environment variables (defaults: the full run,
about 14 minutes on 2 cores; BENCH_QUICK=1: a small run to check the harness, which
never replaces bench/latest)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Config:
    runs: int = 3  # repetitions of each measurement (median and min-max are reported)
    # Rounds of the HTTP throughput scenarios: a 4 s wrk run on a shared 2-core machine moves
    # by 30% from one round to the next, and with 3 rounds one such round set a median ratio.
    http_runs: int = 5
    seconds: int = 4  # each wrk run
    connections: int = 64
    e2e_jobs: int = 1500  # jobs per worker-throughput run
    rate: float = 200.0  # jobs/s of the fixed-rate latency runs
    latency_jobs: int = 400  # per latency run (2 s at 200/s), once per way of watching
    latency_runs: int = 5  # short runs, interleaved: a noisy moment spoils one, not the median
    poll_interval_ms: float = 1.0
    memory_submits: int = 100_000
    memory_drain_seconds: float = 15.0  # worker sampling after the last submit
    webhooks_deliveries: int = 5000  # per dispatcher and bare-client run
    webhooks_latency_seconds: float = 8.0  # per webhook latency run, at 200 jobs/s
    webhooks_timeout: float = 300.0  # with the isolation scenario (about 20 s more)
    profile_seconds: float = 3.0  # 0 disables the py-spy excerpts
    progress_rounds: int = 5  # sum_to_n_job(50,000,000) with and without progress, each
    watch_jobs: int = 200  # jobs watched at once: polling, long polling, SSE (bench/watching.py)
    watch_idle_seconds: float = 2.0  # watched before they run

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


QUICK = Config(runs=1, http_runs=1, seconds=2, e2e_jobs=300, latency_jobs=200, latency_runs=1,
               memory_submits=5000, memory_drain_seconds=5, webhooks_deliveries=1000,
               webhooks_latency_seconds=3, webhooks_timeout=150, profile_seconds=2,
               progress_rounds=1, watch_jobs=50, watch_idle_seconds=1.0)


def from_env(environ: dict[str, str] | None = None) -> Config:
    env = dict(os.environ if environ is None else environ)
    base = QUICK if env.get("BENCH_QUICK", "") not in ("", "0") else Config()
    values = base.as_dict()
    for name, default in values.items():
        raw = env.get(f"BENCH_{name.upper()}")
        if raw:
            values[name] = type(default)(raw)
    config = Config(**values)
    if config.runs < 1 or config.seconds < 1:
        raise ValueError("BENCH_RUNS and BENCH_SECONDS must be at least 1")
    return config


def http_runs(config: dict[str, Any]) -> int:
    """The HTTP throughput rounds of a run's recorded config (older runs had `runs` only)."""
    return int(config.get("http_runs", config["runs"]))
