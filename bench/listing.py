"""Listing cost against history (issue 15): `jobs(status: FAILED, first: 5)` over GraphQL
for tenants holding 1,000, 10,000 and 100,000 jobs, 10 of each FAILED.

Each size is its own tenant in one Redis and one gateway process, so the sizes are
measured in interleaved rounds under the same load; the jobs are made by the real submit
script (tests/support/job_index.py) and ten of them ended FAILED by the real transition.
A round sends REQUESTS sequential requests per size on one keep-alive connection and
keeps their median and p99 latency; before timing, each size's listing is checked to give
5 jobs, then the other 5 on the second page. The figure that matters: the largest size's
median over the smallest's, per round (flat: about 1x)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench.config import Config
from bench.procs import Processes
from bench.scenarios import start_gateway
from bench.stats import paired, percentile, spread
from bench.targets import LISTING_SIZES
from tasks.jobs.record import JobStatus
from tests.support.job_index import create_jobs, end_jobs

SIZES = LISTING_SIZES
FAILED = 10
REQUESTS = 300  # per size and round
QUERY = ("query($after: String) { jobs(status: FAILED, first: 5, after: $after) "
         "{ edges { node { id status } } pageInfo { hasNextPage endCursor } } }")


def _tenant(size: int) -> str:
    return f"jobs{size}"


def _page(http: httpx.Client, key: str, after: str | None = None) -> dict[str, Any]:
    answer = http.post("/graphql", json={"query": QUERY, "variables": {"after": after}},
                       headers={"X-API-Key": key})
    answer.raise_for_status()
    body = answer.json()
    if body.get("errors"):
        raise RuntimeError(f"listing answered errors: {body['errors']}")
    page: dict[str, Any] = body["data"]["jobs"]
    return page


def _check(http: httpx.Client, key: str, size: int) -> None:
    first = _page(http, key)
    second = _page(http, key, first["pageInfo"]["endCursor"])
    shape = (len(first["edges"]), first["pageInfo"]["hasNextPage"], len(second["edges"]),
             second["pageInfo"]["hasNextPage"])
    if shape != (5, True, 5, False):
        raise RuntimeError(f"{size:,} jobs: pages of (5, more, 5, last) expected, got {shape}")


def _time(http: httpx.Client, key: str) -> dict[str, float]:
    took = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        _page(http, key)
        took.append(1000 * (time.perf_counter() - start))
    return {"p50_ms": percentile(took, 50), "p99_ms": percentile(took, 99)}


def listing_phase(procs: Processes, cfg: Config, log: Callable[[str], None]) -> dict[str, Any]:
    log(f"phase E: jobs(status: FAILED, first: 5) over {', '.join(f'{s:,}' for s in SIZES)} "
        "jobs")
    redis = procs.redis("listing")
    keys = {size: secrets.token_urlsafe(24) for size in SIZES}
    api_keys = ",".join(f"{_tenant(size)}:{key}" for size, key in keys.items())
    gw = start_gateway(procs, "gateway-listing", redis, 1, API_KEYS=api_keys)
    client = redis.client()
    made = time.monotonic()
    for size in SIZES:
        ids = create_jobs(redis.url, size, tenant=_tenant(size))
        end_jobs(client, ids[:: size // FAILED], JobStatus.FAILED)
    log(f"  {sum(SIZES):,} jobs made in {time.monotonic() - made:.1f} s")
    runs: dict[int, list[dict[str, float]]] = {size: [] for size in SIZES}
    with httpx.Client(base_url=gw.url, timeout=30) as http:
        for size in SIZES:
            _check(http, keys[size], size)
        for r in range(cfg.runs):
            order = SIZES if r % 2 == 0 else tuple(reversed(SIZES))
            for size in order:
                runs[size].append(_time(http, keys[size]))
    medians = {size: [run["p50_ms"] for run in runs[size]] for size in SIZES}
    log("  median ms per listing: " + ", ".join(
        f"{size:,} jobs {spread(medians[size]).median:.2f}" for size in SIZES))
    return {
        "settings": {"sizes": list(SIZES), "failed": FAILED, "requests": REQUESTS},
        "sizes": {str(size): {
            "p50_ms": spread(medians[size]).as_dict(),
            "p99_ms": spread([run["p99_ms"] for run in runs[size]]).as_dict()}
            for size in SIZES},
        # The largest size's cost over the smallest's, per round (same moment's load).
        "largest_over_smallest": paired(medians[SIZES[-1]], medians[SIZES[0]]),
    }
