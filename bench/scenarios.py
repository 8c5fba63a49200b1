"""The measurements of one benchmark run. Each phase starts the servers it needs through
`Processes` (which stops them all, whatever happens) and returns plain data for
results.json."""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import httpx
import orjson

from bench import clients, graphql_probe, profiling, wrk
from bench.config import Config
from bench.cpu_share import CpuShare
from bench.graphql_probe import GraphQLSupport, job_body, probe
from bench.procs import ROOT, HttpServer, Proc, Processes, RedisHandle, wait_until
from bench.reference_celery import TASK_NAME, make_app
from bench.stats import paired, percentile, ratio, spread, tail_trend
from tasks.redis.keys import JOB_INDEX_KEY, KOMBU_UNACKED_KEY, WORKERS_KEY, job_key

Log = Callable[[str], None]

HOLD_QUEUE = "bench-hold"  # prefilled here, then RENAMEd onto the queue workers consume
WORK_QUEUE = "celery"
API = "/producer/api"
TERMINAL = {b"SUCCEEDED", b"FAILED", b"CANCELLED", b"EXPIRED"}


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CELERY_", "REDIS_", "GATEWAY_", "BENCH_", "WORKER_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


def gateway_env(redis_url: str, **extra: str) -> dict[str, str]:
    env = base_env()
    # The gateway's own defaults, a private Redis, no developer .env, and open access
    # unless `extra` says otherwise (the production rows: `production_settings`).
    env.update({"GATEWAY_ENV_FILE": "/dev/null", "REDIS_URL": redis_url, "API_KEYS": "",
                **extra})
    return env


# The production rows: API keys on (the client sends one) and a per-key rate limit far
# above what one gateway process answers, so every request pays for the key check and
# the token bucket and none is refused (a refusal would show as an error in the table).
PRODUCTION_RATE_LIMIT = 1_000_000
PRODUCTION_KEY_HEADER = "X-API-Key"


@dataclass(frozen=True, slots=True)
class Production:
    key: str  # a fresh key per run

    @property
    def settings(self) -> dict[str, str]:
        return {"API_KEYS": f"bench:{self.key}",
                "RATE_LIMIT_PER_SECOND": str(PRODUCTION_RATE_LIMIT),
                "RATE_LIMIT_BURST": str(PRODUCTION_RATE_LIMIT)}

    @property
    def headers(self) -> dict[str, str]:
        return {PRODUCTION_KEY_HEADER: self.key}

    def as_dict(self) -> dict[str, Any]:
        return {"api_keys": 1, "key_header": PRODUCTION_KEY_HEADER,
                "rate_limit_per_second": PRODUCTION_RATE_LIMIT,
                "rate_limit_burst": PRODUCTION_RATE_LIMIT}


def bare_env(redis_url: str) -> dict[str, str]:
    return {**base_env(), "BENCH_BROKER_URL": redis_url}


# --- servers -----------------------------------------------------------------------------

def start_gateway(procs: Processes, name: str, redis: RedisHandle, workers: int,
                  queue: str = WORK_QUEUE, **settings: str) -> HttpServer:
    return procs.uvicorn(name, "gateway.app:app", workers,
                         gateway_env(redis.url, CELERY_QUEUE=queue, **settings),
                         probe_path=f"{API}/")


def start_our_worker(procs: Processes, name: str, redis: RedisHandle,
                     concurrency: int, queues: str = "short", **settings: str) -> Proc:
    """`python -m worker -Q queues` (the bench's jobs are short: their queue's worker
    alone, unless asked), once each queue's Celery worker beats."""
    client = redis.client()
    client.delete(WORKERS_KEY)
    env = gateway_env(redis.url, WORKER_CONCURRENCY=str(concurrency),
                      CELERY_QUEUE=WORK_QUEUE, **settings)
    argv = [sys.executable, "-m", "worker", "-Q", queues, f"--hostname={name}@%h",
            "--without-mingle", "--without-gossip"]
    nodes = len(queues.split(","))
    return procs.celery_worker(name, argv, env, lambda: client.zcard(WORKERS_KEY) >= nodes)


def start_bare_worker(procs: Processes, name: str, redis: RedisHandle,
                      concurrency: int) -> Proc:
    argv = [sys.executable, "-m", "celery", "-A", "bench.reference_celery", "worker",
            f"--concurrency={concurrency}", "--without-mingle", "--without-gossip",
            "--loglevel=INFO", f"--queues={WORK_QUEUE}", f"--hostname={name}@%h"]
    holder: list[Proc] = []

    def ready() -> bool:
        return bool(holder) and " ready." in holder[0].log_tail(50)

    proc = procs.spawn(name, argv, bare_env(redis.url))
    holder.append(proc)
    if not wait_until(lambda: ready() or not proc.alive(), 60, 0.1) or not proc.alive():
        raise proc.fail("was not ready within 60 s")
    return proc


def finished_job(base_url: str, submit: Callable[[httpx.Client], str],
                 poll_path: str, headers: dict[str, str] | None = None) -> str:
    """Submit one job and wait until its poll answers ready: the poll benchmarks read it."""
    with httpx.Client(base_url=base_url, timeout=10, headers=headers) as http:
        job_id = submit(http)

        def ready() -> bool:
            return bool(http.get(poll_path.format(id=job_id)).json().get("ready"))

        if not wait_until(ready, 60, 0.1):
            raise RuntimeError(f"job {job_id} on {base_url} did not finish within 60 s")
    return job_id


# --- phase A: HTTP throughput and latency (wrk, 64 connections) --------------------------

@dataclass
class HttpScenario:
    name: str
    label: str
    server: HttpServer
    path: str
    method: str = "GET"
    body: str | None = None
    # The broker queue the submits push to: emptied before each run (so it never reaches
    # an admission limit such as MAX_QUEUE_DEPTH), its length after the run is the number
    # of jobs the run really created.
    queue: RedisHandle | None = None
    headers: dict[str, str] | None = None  # the production rows' API key
    # Processes whose CPU time each run records, by role (bench/cpu_share.py).
    cpu: dict[str, list[Proc]] | None = None


# Side-by-side comparisons kept as data (per-round ratios): what a second process adds,
# what the production configuration costs, and what NGINX in front costs. The gateway's
# 2-process rows run as `make up` runs GATEWAY_PROCESSES=2, two uvicorns behind NGINX: what
# the second process adds is measured against one process behind the same NGINX.
COMPARISONS = [(f"{p}_2p", f"{p}_1p")
               for p in ("hello", "reference_submit", "rest_submit", "graphql_submit")] + [
    (f"{p}_prod_1p", f"{p}_1p") for p in ("rest_submit", "rest_poll", "graphql_submit")] + [
    (f"{p}_2p", "reference_submit_2p") for p in ("rest_submit", "graphql_submit")] + [
    pair for p in ("rest_submit", "graphql_submit")
    for pair in ((f"{p}_2p", f"{p}_nginx_1p"), (f"{p}_nginx_1p", f"{p}_1p"))] + [
    ("rest_submit_acks_1p", "rest_submit_replicated_1p"),
    ("rest_submit_acks_1p", "rest_submit_1p"),
    ("graphql_persisted_submit_1p", "graphql_submit_1p")]  # by hash vs by text

def http_phase(procs: Processes, cfg: Config, log: Log) -> dict[str, Any]:
    log("phase A: HTTP throughput: starting servers")
    redis = {n: procs.redis(f"gw{n}") for n in (1, 2)}
    ref_redis = {n: procs.redis(f"ref{n}") for n in (1, 2)}
    hello = {n: procs.uvicorn(f"hello-{n}", "bench.hello_app:app", n, base_env())
             for n in (1, 2)}
    ref = {n: procs.uvicorn(f"reference-{n}", "bench.reference_producer:app", n,
                            bare_env(ref_redis[n].url)) for n in (1, 2)}
    # The gateway's processes as `make up` runs them: one uvicorn each, NGINX in front.
    gw = {1: start_gateway(procs, "gateway-1", redis[1], 1)}
    two = [start_gateway(procs, f"gateway-2-{i}", redis[2], 1) for i in (1, 2)]
    gw[2] = procs.nginx_in_front("nginx-2p", two, f"{API}/")
    gw_nginx = procs.nginx_in_front("nginx-1p", [gw[1]], f"{API}/")  # the same process
    cpu = {1: {"gateways": [gw[1].proc], "redis": [redis[1].proc], "nginx": [gw_nginx.proc]},
           2: {"gateways": [g.proc for g in two], "redis": [redis[2].proc],
               "nginx": [gw[2].proc]}}
    production = Production(secrets.token_urlsafe(24))
    prod_redis = procs.redis("gw-prod")
    gw_prod = start_gateway(procs, "gateway-prod", prod_redis, 1, **production.settings)
    # REDIS_MIN_REPLICA_ACKS=1: a primary with one replica, and a gateway without acks on it
    # too, so the rows tell Redis WAIT's cost from replication's.
    replicated = procs.redis("gw-replicated")
    procs.redis("gw-replica", replica_of=replicated)
    gw_replicated = start_gateway(procs, "gateway-replicated", replicated, 1)
    gw_acks = start_gateway(procs, "gateway-acks", replicated, 1, REDIS_MIN_REPLICA_ACKS="1")

    # One finished job on each side, for the poll figures (workers stop again, so that
    # no worker competes for the CPU during the submit runs).
    worker = start_our_worker(procs, "poll-setup-worker", redis[1], 1)
    ours_id = finished_job(gw[1].url, _rest_submit, f"{API}/sum/{{id}}")
    procs.stop(worker)
    worker = start_our_worker(procs, "poll-setup-worker-prod", prod_redis, 1)
    prod_id = finished_job(gw_prod.url, _rest_submit, f"{API}/sum/{{id}}",
                           production.headers)
    procs.stop(worker)
    worker = start_bare_worker(procs, "poll-setup-bare", ref_redis[1], 1)
    ref_id = finished_job(ref[1].url, _ref_submit, "/sum/{id}")
    procs.stop(worker)

    graphql = probe(gw[1].url)
    log(f"GraphQL: {graphql.reason}")
    if graphql.available:
        with_key = probe(gw_prod.url, production.headers)
        if not with_key.available:
            raise RuntimeError(f"GraphQL with an API key failed: {with_key.reason}")
    persisted = graphql_probe.probe_persisted(gw[1].url)  # the mutation by hash (issue 17)
    log(f"GraphQL persisted queries: {persisted.reason}")
    body = '{"number": 1}'
    scenarios: list[HttpScenario] = []
    ours = {1: ("", gw[1]), 2: (" behind NGINX", gw[2])}
    for n in (1, 2):
        way, server = ours[n]
        scenarios += [
            HttpScenario(f"hello_{n}p", f"bare FastAPI hello, {n} proc", hello[n], "/"),
            HttpScenario(f"reference_submit_{n}p", f"reference submit, {n} proc", ref[n],
                         "/sum", "POST", body, ref_redis[n]),
            HttpScenario(f"rest_submit_{n}p", f"REST submit, {n} proc{way}", server,
                         f"{API}/sum", "POST", body, redis[n], cpu=cpu[n] if n == 2 else None),
        ]
        if graphql.available:
            scenarios.append(HttpScenario(
                f"graphql_submit_{n}p", f"GraphQL submitSum, {n} proc{way}", server,
                "/graphql", "POST", graphql.body, redis[n], cpu=cpu[n] if n == 2 else None))
        # By hash right after the submits its targets compare it with (the reference's is
        # two rows up): rows a target compares run side by side in a round, as the poll's.
        if n == 1 and persisted.available:
            scenarios.append(HttpScenario(
                "graphql_persisted_submit_1p", "GraphQL submitSum by persisted hash, 1 proc",
                gw[1], "/graphql", "POST", persisted.body, redis[1]))
    scenarios.append(HttpScenario("rest_submit_nginx_1p", "REST submit, 1 proc behind NGINX",
                                  gw_nginx, f"{API}/sum", "POST", body, redis[1], cpu=cpu[1]))
    if graphql.available:
        scenarios.append(HttpScenario(
            "graphql_submit_nginx_1p", "GraphQL submitSum, 1 proc behind NGINX", gw_nginx,
            "/graphql", "POST", graphql.body, redis[1], cpu=cpu[1]))
    scenarios += [
        HttpScenario("reference_poll_1p", "reference poll (finished), 1 proc", ref[1],
                     f"/sum/{ref_id}"),
        HttpScenario("rest_poll_1p", "REST poll (finished), 1 proc", gw[1],
                     f"{API}/sum/{ours_id}"),
        *([HttpScenario("graphql_job_1p", "GraphQL job(id) (finished), 1 proc", gw[1],
                        "/graphql", "POST", job_body(ours_id))] if graphql.available else []),
        # The production configuration, in the same rounds as the open rows.
        HttpScenario("rest_submit_prod_1p", "REST submit, API key + rate limit, 1 proc",
                     gw_prod, f"{API}/sum", "POST", body, prod_redis, production.headers),
        HttpScenario("rest_poll_prod_1p", "REST poll (finished), API key + rate limit, "
                     "1 proc", gw_prod, f"{API}/sum/{prod_id}", headers=production.headers),
        *replica_scenarios(gw_replicated, gw_acks, replicated, body),
    ]
    if graphql.available:
        scenarios.append(HttpScenario(
            "graphql_submit_prod_1p", "GraphQL submitSum, API key + rate limit, 1 proc",
            gw_prod, "/graphql", "POST", graphql.body, prod_redis, production.headers))

    log(f"warm-up of {len(scenarios)} scenarios")
    for s in scenarios:
        wrk.run(s.server.url + s.path, seconds=1, connections=cfg.connections,
                method=s.method, body=s.body, headers=s.headers)
    runs: dict[str, list[dict[str, Any]]] = {s.name: [] for s in scenarios}
    for round_no in range(cfg.http_runs):
        # Rounds interleave the contenders, so a noisy moment hits them alike.
        for s in scenarios:
            queue = s.queue.client() if s.queue else None
            if queue is not None:
                queue.delete(WORK_QUEUE)
            share = CpuShare(s.cpu) if s.cpu else None
            result = wrk.run(s.server.url + s.path, seconds=cfg.seconds,
                             connections=cfg.connections, method=s.method, body=s.body,
                             headers=s.headers)
            entry = result.as_dict()
            if share is not None:
                entry["cpu"] = share.stop()
            if queue is not None:
                time.sleep(0.2)  # the answers wrk stopped waiting for
                entry["accepted_jobs"] = int(queue.llen(WORK_QUEUE))
            runs[s.name].append(entry)
            log(f"  round {round_no + 1}/{cfg.http_runs} {s.label}: {result.rps:,.0f} req/s, "
                f"p50 {result.latency_ms['50']:.1f} ms, p99 {result.latency_ms['99']:.1f} ms"
                + (f", errors {result.errors}" if result.error_count else ""))

    results: dict[str, Any] = {"graphql": graphql.as_dict(),
                               "graphql_persisted": persisted.as_dict(), "scenarios": {},
                               "production": production.as_dict()}
    for s in scenarios:
        rs = runs[s.name]
        results["scenarios"][s.name] = {
            "label": s.label, "method": s.method, "path": s.path,
            "processes": s.server.workers,
            "rps": spread([r["rps"] for r in rs]).as_dict(),
            "p50_ms": spread([r["latency_ms"]["50"] for r in rs]).as_dict(),
            "p99_ms": spread([r["latency_ms"]["99"] for r in rs]).as_dict(),
            "errors": sum(sum(r["errors"].values()) for r in rs),
            "requests": sum(r["requests"] for r in rs),
            "accepted_jobs": sum(r["accepted_jobs"] for r in rs) if s.queue else None,
            "runs": rs,
        }
    results["ratios"] = {
        f"{num}/{den}": paired([r["rps"] for r in runs[num]], [r["rps"] for r in runs[den]])
        for num, den in COMPARISONS if num in runs and den in runs}
    results["profiles"] = _profile_gateway(gw[1], graphql, ours_id, cfg)
    return results


def replica_scenarios(replicated: HttpServer, acks: HttpServer, redis: RedisHandle,
                      body: str) -> list[HttpScenario]:
    """REST submits to a primary with one replica, without and with REDIS_MIN_REPLICA_ACKS=1
    (each answered once the replica has the job: Redis WAIT)."""
    return [
        HttpScenario("rest_submit_replicated_1p", "REST submit, Redis with a replica, 1 proc",
                     replicated, f"{API}/sum", "POST", body, redis),
        HttpScenario("rest_submit_acks_1p", "REST submit, REDIS_MIN_REPLICA_ACKS=1, 1 proc",
                     acks, f"{API}/sum", "POST", body, redis),
    ]


def _rest_submit(http: httpx.Client) -> str:
    r = http.post(f"{API}/sum", json={"number": 1})
    r.raise_for_status()
    job_id: str = r.json()["job_id"]
    return job_id


def _ref_submit(http: httpx.Client) -> str:
    r = http.post("/sum", json={"number": 1})
    r.raise_for_status()
    job_id: str = r.json()["job_id"]
    return job_id


def _profile_gateway(gw: HttpServer, graphql: GraphQLSupport, poll_id: str,
                     cfg: Config) -> dict[str, Any]:
    """py-spy on the 1-process gateway under wrk load (extra runs, not the measured ones:
    sampling slows the process a little)."""
    if not cfg.profile_seconds:
        return {}
    targets = [("rest_submit", f"{API}/sum", "POST", '{"number": 1}'),
               ("rest_poll", f"{API}/sum/{poll_id}", "GET", None)]
    if graphql.available:
        targets.append(("graphql_submit", "/graphql", "POST", graphql.body))
        targets.append(("graphql_job", "/graphql", "POST", job_body(poll_id)))
    out: dict[str, Any] = {}
    for name, path, method, body in targets:
        holder: list[profiling.Profile] = []
        pid = gw.proc.pid

        def sample(pid: int = pid, into: list[profiling.Profile] = holder) -> None:
            time.sleep(0.5)
            into.append(profiling.record(pid, cfg.profile_seconds))

        thread = threading.Thread(target=sample)
        thread.start()
        wrk.run(gw.url + path, seconds=cfg.profile_seconds + 2,
                connections=cfg.connections, method=method, body=body)
        thread.join()
        out[name] = holder[0].as_dict() if holder else {"error": "no profile"}
    return out


# --- phase B/C: jobs to SUCCEEDED, and latency at a fixed rate ----------------------------

def _wait_drained(client: Any, check_done: Callable[[], bool], timeout: float,
                  held: int = 0) -> None:
    """`held`: messages unacknowledged throughout that are not the drain's (a long job's)."""
    def drained() -> bool:
        return (client.llen(WORK_QUEUE) == 0 and client.hlen(KOMBU_UNACKED_KEY) <= held
                and check_done())

    if not wait_until(drained, timeout, 0.05):
        raise RuntimeError(f"jobs not finished within {timeout:.0f} s")


def _ours_drain(gw: HttpServer, redis: RedisHandle, jobs: int, held: int = 0) -> dict[str, Any]:
    client = redis.client()
    mem0 = int(client.info("memory")["used_memory"])
    cpu0 = _redis_cpu(client)
    ids = asyncio.run(clients.prefill(gw.url, jobs))
    client.rename(HOLD_QUEUE, WORK_QUEUE)
    keys = [job_key(i) for i in ids]

    def all_done() -> bool:
        if client.hget(keys[-1], "status") not in TERMINAL:
            return False
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hget(key, "status")
        return all(s in TERMINAL for s in pipe.execute())

    _wait_drained(client, all_done, 300, held)
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.hmget(key, "status", "finished_at")
    rows = pipe.execute()
    failed = sum(1 for status, _ in rows if status != b"SUCCEEDED")
    finished = sorted(float(at) for _, at in rows if at)
    mem1 = int(client.info("memory")["used_memory"])
    sample = [int(client.memory_usage(k, samples=0) or 0) for k in keys[:: max(1, jobs // 20)]]
    index_entry = _index_bytes_per_entry(client)
    return _drain_result(jobs, finished, failed, mem1 - mem0, sample) | {
        "index_bytes_per_entry": index_entry,
        "redis_cpu_us_per_job": (_redis_cpu(client) - cpu0) * 1e6 / jobs}


def _index_bytes_per_entry(client: Any) -> float:
    """Memory per entry of the job index sorted set(s) (one, or one per tenant)."""
    size = entries = 0
    for key in client.scan_iter(match=JOB_INDEX_KEY + "*", count=1000):
        if client.type(key) == b"zset":
            size += int(client.memory_usage(key, samples=0) or 0)
            entries += int(client.zcard(key))
    return size / entries if entries else math.nan


def _bare_drain(redis: RedisHandle, jobs: int) -> dict[str, Any]:
    import uuid

    client = redis.client()
    mem0 = int(client.info("memory")["used_memory"])
    cpu0 = _redis_cpu(client)
    app = make_app(redis.url)
    task = app.tasks[TASK_NAME]
    ids = [str(uuid.uuid4()) for _ in range(jobs)]
    for job_id in ids:
        task.apply_async(args=[1], task_id=job_id, queue=HOLD_QUEUE)
    app.close()
    client.rename(HOLD_QUEUE, WORK_QUEUE)
    keys = [clients.BARE_RESULT_PREFIX + i for i in ids]

    def all_done() -> bool:
        if not client.exists(keys[-1]):
            return False
        return int(client.exists(*keys)) == len(keys)

    _wait_drained(client, all_done, 300)
    metas = [orjson.loads(m or b"{}") for m in client.mget(keys)]
    failed = sum(1 for m in metas if m["status"] != "SUCCESS")
    finished = sorted(datetime.fromisoformat(m["date_done"]).timestamp() for m in metas)
    mem1 = int(client.info("memory")["used_memory"])
    sample = [int(client.memory_usage(k, samples=0) or 0) for k in keys[:: max(1, jobs // 20)]]
    return _drain_result(jobs, finished, failed, mem1 - mem0, sample) | {
        "redis_cpu_us_per_job": (_redis_cpu(client) - cpu0) * 1e6 / jobs}


def _redis_cpu(client: Any) -> float:
    """CPU seconds the redis-server has used (user + system), for its cost per job."""
    cpu = client.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def _drain_result(jobs: int, finished: list[float], failed: int, mem_delta: int,
                  sample: list[int]) -> dict[str, Any]:
    span = finished[-1] - finished[0] if len(finished) > 1 else math.nan
    return {
        "jobs": jobs, "failed": failed,
        "jobs_per_s": (len(finished) - 1) / span if span and span > 0 else math.nan,
        "redis_bytes_per_job": mem_delta / jobs,
        "record_memory_usage_median": percentile(sample, 50) if sample else math.nan,
    }


# Worker variants: prefetch 1 (the long queue's, and the one queue's before there were
# two), the same with task events on (as while Flower watches), and, with one pool
# process, the short queue's prefetch of 4 (the default). Each has its own Redis and
# prefill gateway.
PREFETCH_1 = {"WORKER_PREFETCH_MULTIPLIER": "1"}
VARIANTS: dict[str, tuple[dict[str, str], tuple[int, ...]]] = {
    "ours": (PREFETCH_1, (1, 2)),
    "ours_events": ({**PREFETCH_1, "WORKER_TASK_EVENTS": "true"}, (1, 2)),
    "ours_prefetch4": ({"WORKER_PREFETCH_MULTIPLIER": "4"}, (1,)),
}
# The main process's Redis round trips between two jobs, quoted by the one-process miss.
WORKER_MAIN_FOCUS = ("QoS.ack", "QoS.append", "_brpop_start", "_brpop_read")


def e2e_phase(procs: Processes, cfg: Config, log: Log,
              graphql_available: bool) -> dict[str, Any]:
    log("phase B: jobs to SUCCEEDED (queue prefilled, then released to running workers)")
    redis = {v: procs.redis(f"e2e-{v}") for v in VARIANTS}
    bare_redis = procs.redis("e2e-bare")
    prefill = {v: start_gateway(procs, f"gateway-e2e-prefill-{v}", redis[v], 1, HOLD_QUEUE)
               for v in VARIANTS}
    gw_live = start_gateway(procs, "gateway-e2e-live", redis["ours"], 1, WORK_QUEUE)
    drains: dict[str, list[dict[str, Any]]] = {}
    latency: dict[str, list[dict[str, Any]]] = {"ours": [], "bare": []}
    profiles: dict[str, Any] = {}
    for concurrency in (1, 2):
        variants = [v for v, (_, cs) in VARIANTS.items() if concurrency in cs]
        workers = {v: start_our_worker(procs, f"{v}-c{concurrency}", redis[v], concurrency,
                                       **VARIANTS[v][0]) for v in variants}
        bare_w = start_bare_worker(procs, f"bare-c{concurrency}", bare_redis, concurrency)
        sides: dict[str, Callable[[], dict[str, Any]]] = {
            f"{v}_c{concurrency}": partial(_ours_drain, prefill[v], redis[v], cfg.e2e_jobs)
            for v in variants}
        sides[f"bare_c{concurrency}"] = partial(_bare_drain, bare_redis, cfg.e2e_jobs)
        for key in sides:
            drains[key] = []
        for run in range(cfg.runs):
            for key, measure in sides.items():
                result = measure()
                drains[key].append(result)
                log(f"  run {run + 1}/{cfg.runs} {key}: {result['jobs_per_s']:,.0f} jobs/s, "
                    f"{result['redis_bytes_per_job']:,.0f} Redis bytes/job"
                    + (f", {result['failed']} failed" if result["failed"] else ""))
        for v in variants:
            if v != "ours":
                procs.stop(workers[v])
        if cfg.profile_seconds and concurrency == 1:
            rate = spread([r["jobs_per_s"] for r in drains["ours_c1"]]).median
            profiles["worker_main_c1"] = _profile_worker(
                workers["ours"], prefill["ours"], redis["ours"], cfg, rate,
                subprocesses=False, focus=WORKER_MAIN_FOCUS)
        if concurrency == 2:
            log(f"phase C: submit-to-SUCCEEDED latency at {cfg.rate:.0f} jobs/s")
            watches = ["poll", "subscription"] if graphql_available else ["poll"]
            for run in range(cfg.latency_runs):
                ours = clients.merged([asyncio.run(clients.ours_latency(
                    gw_live.url, redis["ours"].url, cfg.rate, cfg.latency_jobs,
                    cfg.poll_interval_ms / 1000, watch)) for watch in watches])
                bare = asyncio.run(clients.bare_latency(
                    bare_redis.url, cfg.rate, cfg.latency_jobs, cfg.poll_interval_ms / 1000))
                latency["ours"].append(ours.as_dict())
                latency["bare"].append(bare.as_dict())
                log(f"  run {run + 1}/{cfg.latency_runs}: " + ", ".join(
                    f"{side} {name} p50 {percentile(v, 50):.2f} ms"
                    for side, r in (("ours", ours), ("bare", bare))
                    for name, v in r.latencies_ms.items()))
            if cfg.profile_seconds:
                rate = spread([r["jobs_per_s"] for r in drains["ours_c2"]]).median
                profiles["worker"] = _profile_worker(workers["ours"], prefill["ours"],
                                                     redis["ours"], cfg, rate,
                                                     subprocesses=True)
        procs.stop(workers["ours"])
        procs.stop(bare_w)
    out: dict[str, Any] = {"drain": {}, "latency": _latency_summary(latency),
                           "profiles": profiles,
                           "variants": {v: settings for v, (settings, _) in VARIANTS.items()}}
    for key, rs in drains.items():
        out["drain"][key] = {
            "jobs_per_s": spread([r["jobs_per_s"] for r in rs]).as_dict(),
            "redis_bytes_per_job": spread([r["redis_bytes_per_job"] for r in rs]).as_dict(),
            "record_memory_usage": spread(
                [r["record_memory_usage_median"] for r in rs]).as_dict(),
            "redis_cpu_us_per_job": spread(
                [r.get("redis_cpu_us_per_job", math.nan) for r in rs]).as_dict(),
            # What one Redis core could serve at this cost: 1 s of CPU / cost per job.
            "jobs_per_redis_cpu_second": spread(
                [1e6 / r["redis_cpu_us_per_job"] if r.get("redis_cpu_us_per_job") else
                 math.nan for r in rs]).as_dict(),
            "runs": rs,
        }
    # From one pool process to two (ratio of the medians: the runs of the two are not
    # in the same rounds).
    out["scaling"] = {
        side: ratio(out["drain"][f"{side}_c2"]["jobs_per_s"]["median"],
                    out["drain"][f"{side}_c1"]["jobs_per_s"]["median"])
        for side in ("ours", "ours_events", "bare")
        if f"{side}_c1" in out["drain"] and f"{side}_c2" in out["drain"]}
    return out


def _profile_worker(worker: Proc, gw: HttpServer, redis: RedisHandle, cfg: Config,
                    rate: float, subprocesses: bool,
                    focus: tuple[str, ...] = ()) -> dict[str, Any]:
    """py-spy on a worker draining a prefilled queue (an extra drain, not a measured one),
    with enough jobs to keep it busy for the whole sample at the rate it just showed."""
    holder: list[profiling.Profile] = []
    seconds = cfg.profile_seconds

    def sample() -> None:
        time.sleep(0.3)
        holder.append(profiling.record(worker.pid, seconds, subprocesses, focus))

    thread = threading.Thread(target=sample)
    per_s = rate if rate > 0 else 1000.0  # NaN: no finished drain to go by
    jobs = max(cfg.e2e_jobs, int((seconds + 1) * per_s * 1.2))
    ids = asyncio.run(clients.prefill(gw.url, jobs))
    thread.start()
    redis.client().rename(HOLD_QUEUE, WORK_QUEUE)
    thread.join()
    client = redis.client()
    _wait_drained(client, lambda: client.hget(job_key(ids[-1]), "status") in TERMINAL,
                  300)
    return holder[0].as_dict() if holder else {}


def _latency_summary(latency: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {"fast_polls": clients.FAST_POLLS,
                           "subscription_sockets": clients.SUBSCRIPTION_SOCKETS}
    for side, runs in latency.items():
        observers: dict[str, Any] = {}
        names = sorted({n for r in runs for n in r["latencies_ms"]})
        for name in names:
            per_run = [r["latencies_ms"].get(name, []) for r in runs]
            observers[name] = {
                "p50_ms": spread([percentile(v, 50) for v in per_run]).as_dict(),
                "p99_ms": spread([percentile(v, 99) for v in per_run]).as_dict(),
                "missing": sum(r["missing"].get(name, 0) for r in runs),
                # Every job's latency of every run (to the microsecond), for the chart.
                "all_ms": [round(x, 3) for v in per_run for x in v],
            }
        out[side] = {"observers": observers,
                     "notes": sorted({n for r in runs for n in r["notes"]})}
    return out


# --- phase D: memory over many submits ---------------------------------------------------

MEMORY_SAMPLE_SECONDS = 0.5
MEMORY_WORKER_PROCESSES = 2

def memory_phase(procs: Processes, cfg: Config, log: Log) -> dict[str, Any]:
    log(f"phase D: RSS over {cfg.memory_submits:,} submits (worker running)")
    redis = procs.redis("memory")
    gw = start_gateway(procs, "gateway-memory", redis, 1)
    worker = start_our_worker(procs, "ours-memory", redis, MEMORY_WORKER_PROCESSES)
    client = redis.client()
    samples: list[dict[str, float]] = []
    baseline = int(client.dbsize())
    stop = threading.Event()
    t_start = time.monotonic()

    def sampler() -> None:
        while not stop.is_set():
            submitted = int(client.dbsize()) - baseline  # one hash per job
            queued = int(client.llen(WORK_QUEUE))
            samples.append({"t": round(time.monotonic() - t_start, 3), "submitted": submitted,
                            "consumed": submitted - queued, "gateway_rss": gw.proc.rss(),
                            "worker_rss": worker.rss()})
            stop.wait(MEMORY_SAMPLE_SECONDS)

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    try:
        result = wrk.run(gw.url + f"{API}/sum", seconds=600, connections=cfg.connections,
                         method="POST", body='{"number": 1}',
                         stop_when=lambda: bool(samples)
                         and samples[-1]["submitted"] >= cfg.memory_submits)
        submit_end = time.monotonic() - t_start
        # Keep sampling while the worker works through the backlog (bounded).
        wait_until(lambda: client.llen(WORK_QUEUE) == 0, cfg.memory_drain_seconds, 0.5)
    finally:
        stop.set()
        thread.join()
    during = [s for s in samples if s["t"] <= submit_end]
    gw_trend = tail_trend([s["submitted"] for s in during], [s["gateway_rss"] for s in during])
    wk_trend = tail_trend([s["consumed"] for s in samples], [s["worker_rss"] for s in samples])
    log(f"  {result.requests:,} submits at {result.rps:,.0f}/s; gateway RSS "
        f"{during[0]['gateway_rss'] / 2**20:.1f} -> {during[-1]['gateway_rss'] / 2**20:.1f} MiB")
    return {
        "sample_seconds": MEMORY_SAMPLE_SECONDS,
        "worker_processes": MEMORY_WORKER_PROCESSES,
        # RSS at the start and at the end (the highest of the last five samples for the
        # gateway, whose RSS dips when the allocator returns memory).
        "gateway_rss_start": during[0]["gateway_rss"],
        "gateway_rss_end": max(s["gateway_rss"] for s in samples[-5:]),
        "worker_rss_start": samples[0]["worker_rss"],
        "worker_rss_end": samples[-1]["worker_rss"],
        "submits": int(samples[-1]["submitted"]) if samples else 0,
        "submit_rps": result.rps,
        "consumed": int(samples[-1]["consumed"]) if samples else 0,
        "gateway_trend": _trend_dict(gw_trend),
        "worker_trend": _trend_dict(wk_trend),
        "samples": samples,
    }


def _trend_dict(trend: Any) -> dict[str, Any]:
    return {"slope_bytes_per_unit": trend.slope_per_unit,  # per submit, or per job taken
            "window_start": trend.window_start, "window_growth_bytes": trend.window_growth,
            "start_bytes": trend.start_value, "samples": trend.samples}
