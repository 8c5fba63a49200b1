"""Watching jobs three ways, side by side (`make bench`'s watching phase; alone, `python -m
bench.watching`): per job, one client that polls `GET /producer/api/sum/{id}` at the
reference's interval (every 0.5 s, as infra/locustfile.py's ReferenceUser), one that long-
polls it with `?wait=`, or one that follows `GET /producer/api/jobs/{id}/events` (Server-
Sent Events). For N jobs watched at once it measures the time from each job's end (its
record's `finished_at`) to its client seeing it, and the gateway's CPU time per watched job
(user + system time of its process over the watch, / N).

Each round submits N trivial jobs into a held queue through a second gateway, starts the N
watchers on the measured one, lets them watch for `watch_idle_seconds` (a client watches a
job that waits or runs), then hands the queue to the running worker. Rounds interleave the
three ways, so a noisy moment hits them alike.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp

from bench import clients
from bench.config import Config, from_env
from bench.procs import ROOT, HttpServer, Processes, RedisHandle
from bench.results_io import dumps
from bench.scenarios import HOLD_QUEUE, WORK_QUEUE, start_gateway, start_our_worker
from bench.stats import percentile, spread
from tasks.redis.keys import job_key

WAYS = {"poll": "polling every 0.5 s", "long_poll": "long poll `?wait=30`",
        "sse": "Server-Sent Events"}
REFERENCE_POLL_SECONDS = 0.5  # infra/locustfile.py's POLL_SECONDS
LONG_POLL_WAIT = "30"
WATCH_TIMEOUT = 120.0
ENDED = (b'"SUCCEEDED"', b'"FAILED"', b'"CANCELLED"', b'"EXPIRED"')


async def _watch(way: str, session: aiohttp.ClientSession, job_id: str,
                 seen: dict[str, float], requests: list[int]) -> None:
    """Watch one job `way` until its end is seen; record when (wall clock, as the
    worker's `finished_at`)."""
    if way == "sse":
        requests.append(1)
        async with session.get(f"/producer/api/jobs/{job_id}/events") as resp:
            async for line in resp.content:
                if line.startswith(b"data:") and any(s in line for s in ENDED):
                    seen[job_id] = time.time()
                    return
        return
    params = {"wait": LONG_POLL_WAIT} if way == "long_poll" else None
    while True:
        async with session.get(f"{clients.SUBMIT_PATH}/{job_id}", params=params) as resp:
            body = await resp.read()
        requests.append(1)
        if resp.status != 200:
            raise RuntimeError(f"{way} answered {resp.status}: {body[:300]!r}")
        if b'"ready":true' in body:
            seen[job_id] = time.time()
            return
        if way == "poll":
            await asyncio.sleep(REFERENCE_POLL_SECONDS)


def _cpu_seconds(gateway: HttpServer) -> float:
    times = [p.cpu_times() for p in gateway.proc.processes()]
    return float(sum(t.user + t.system for t in times))


async def _round(way: str, gateway: HttpServer, redis: RedisHandle, ids: list[str],
                 idle: float) -> dict[str, Any]:
    seen: dict[str, float] = {}
    requests: list[int] = []
    client = redis.client()
    cpu_before = _cpu_seconds(gateway)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(gateway.url, connector=connector,
                                     timeout=timeout) as session:
        tasks = [asyncio.create_task(_watch(way, session, job_id, seen, requests))
                 for job_id in ids]
        await asyncio.sleep(idle)
        client.rename(HOLD_QUEUE, WORK_QUEUE)  # the worker takes the jobs now
        done, pending = await asyncio.wait(tasks, timeout=WATCH_TIMEOUT)
        for task in pending:
            task.cancel()
        failures = [t.exception() for t in done if t.exception() is not None]
    cpu = _cpu_seconds(gateway) - cpu_before
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hget(job_key(job_id), "finished_at")
    finished = dict(zip(ids, pipe.execute(), strict=True))
    latencies = [(seen[i] - float(finished[i])) * 1000 for i in ids
                 if i in seen and finished[i]]
    return {"jobs": len(ids), "seen": len(seen), "requests": len(requests),
            "cpu_seconds": cpu, "cpu_ms_per_job": cpu * 1000 / len(ids),
            "requests_per_job": len(requests) / len(ids),
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "all_ms": [round(x, 3) for x in latencies],
            "failures": [repr(f)[:300] for f in failures[:3]]}


def watching_phase(procs: Processes, cfg: Config, log: Callable[[str], None]
                   ) -> dict[str, Any]:
    log(f"phase E: watching {cfg.watch_jobs} jobs at once: polling, long polling, SSE")
    redis = procs.redis("watch")
    prefill = start_gateway(procs, "gateway-watch-prefill", redis, 1, HOLD_QUEUE)
    gateway = start_gateway(procs, "gateway-watch", redis, 1, WORK_QUEUE)
    start_our_worker(procs, "watch-worker", redis, 2)
    runs: dict[str, list[dict[str, Any]]] = {way: [] for way in WAYS}
    for round_no in range(cfg.runs):
        for way in WAYS:
            ids = asyncio.run(clients.prefill(prefill.url, cfg.watch_jobs))
            result = asyncio.run(_round(way, gateway, redis, ids, cfg.watch_idle_seconds))
            runs[way].append(result)
            log(f"  round {round_no + 1}/{cfg.runs} {way}: job end to seen p50 "
                f"{result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, gateway CPU "
                f"{result['cpu_ms_per_job']:.2f} ms/job, {result['requests_per_job']:.1f} "
                f"requests/job" + (f", {result['jobs'] - result['seen']} not seen"
                                   if result["seen"] < result["jobs"] else ""))
    return {
        "settings": {"jobs": cfg.watch_jobs, "idle_seconds": cfg.watch_idle_seconds,
                     "poll_seconds": REFERENCE_POLL_SECONDS,
                     "long_poll_wait": float(LONG_POLL_WAIT), "runs": cfg.runs},
        "ways": {way: {
            "label": label,
            **{metric: spread([r[metric] for r in runs[way]]).as_dict()
               for metric in ("p50_ms", "p99_ms", "cpu_ms_per_job", "requests_per_job")},
            "not_seen": sum(r["jobs"] - r["seen"] for r in runs[way]),
            "runs": runs[way]} for way, label in WAYS.items()},
    }


def main() -> int:
    """This phase alone: bench/results/watching-<date-time>/watching.json, and its table."""
    from bench.report import watching_section

    cfg = from_env()
    out_dir = ROOT / "bench" / "results" / f"watching-{datetime.now():%Y-%m-%d-%H%M%S}"
    with Processes(out_dir / "logs") as procs:
        data = watching_phase(procs, cfg, lambda line: print(line, flush=True))
    (out_dir / "watching.json").write_text(dumps({"watching": data}))
    print("\n".join(watching_section({"watching": data})))
    print(f"written to {out_dir.relative_to(ROOT)}/watching.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
