"""Webhook delivery benchmark (not a test): `make bench-webhooks`, or
`python -m bench.webhooks_bench [--json] [--runs 3] [--deliveries 5000] [--in-flight 50]
[--latency-seconds 8]`; `make bench` runs it too and keeps its results in results.json.

In one run, against one bare receiver on loopback (bench/webhook_receiver_server.py):
  * dispatcher: deliveries/s of ONE `python -m worker.dispatcher` process, draining
    deliveries created by the real terminal transition (Lua) in a real Redis;
  * sync baseline: one Celery task per delivery doing a blocking httpx.post, run by a real
    Celery worker with the project's Celery configuration (WORKER_CONCURRENCY processes);
  * bare-client ceiling: a bare aiohttp client (and, for the client choice, httpx) with the
    dispatcher's number of requests in flight, nothing else;
  * latency: submit-to-webhook-received p50/p99 at a fixed 200 jobs/s through the real
    gateway, Celery worker and dispatcher;
  * isolation: a healthy receiver's lag from job end to arrival while another destination
    hangs, next to the same with nothing hanging (bench/webhook_isolation.py).
Each figure is the median of --runs interleaved rounds, with every round's figure kept.
With --json the last stdout line is one JSON object (bench/webhooks_adapter.py reads it);
the table goes to stderr then. The targets are bench/targets.py's. --isolation-only runs the
isolation scenario alone (to compare versions quickly).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/webhooks_bench.py` works too

import aiohttp  # noqa: E402
import httpx  # noqa: E402
import uvloop  # noqa: E402

from bench import webhook_isolation  # noqa: E402
from bench.stats import paired, percentile, spread  # noqa: E402
from bench.targets import webhook_targets  # noqa: E402
from tasks.celery_app import create_celery  # noqa: E402
from tasks.jobs.record import JobStatus, new_record_fields  # noqa: E402
from tasks.jobs.store import JobStore  # noqa: E402
from tasks.redis.keys import job_key  # noqa: E402
from tasks.settings import Settings  # noqa: E402
from tasks.webhooks.config import new_webhook_secret  # noqa: E402
from tests.support.delivery_schedule import nothing_pending  # noqa: E402
from tests.support.servers import (  # noqa: E402
    Gateway,
    RedisServer,
    Service,
    free_port,
    stack_env,
    start_dispatcher,
    start_worker,
    wait_until,
)
from worker.webhooks.signing import signed_headers  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SYNC_DELIVERIES = 200  # the target's baseline is slow; enough for a stable rate
SYNC_LOOP_DELIVERIES = 100  # the loop without Celery, for the record only
LATENCY_RATE = 200.0  # jobs per second
WARMUP_SECONDS = 2.0
# The bare httpx client (for the choice of client) gets this fraction of --deliveries:
# it is the slowest client, and its rate is steady well before that many.
HTTPX_SHARE = 10
DEFAULTS = Settings(_env_file=None)  # what the scenarios leave as a new user would


def say(text: str, to_stderr: bool) -> None:
    print(text, file=sys.stderr if to_stderr else sys.stdout, flush=True)


class BareReceiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.service = Service(f"bench-receiver-{self.port}",
                               [sys.executable, "-m", "bench.webhook_receiver_server",
                                str(self.port)], {**os.environ, "PYTHONPATH": str(ROOT)})

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> BareReceiver:
        self.service.start()
        wait_until(self._answers, 15, "the bench receiver")
        return self

    def _answers(self) -> bool:
        try:
            return httpx.get(self.url("/stats"), timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(self.url("/stats"), timeout=30).json()
        return data

    def reset(self) -> None:
        httpx.post(self.url("/reset"), timeout=10)

    def wait_arrivals(self, job_ids: Iterable[str], timeout: float) -> dict[str, float]:
        """When each of these jobs' webhooks arrived, once all have."""
        wanted = set(job_ids)
        arrivals: dict[str, float] = {}

        def all_in() -> bool:
            nonlocal arrivals
            arrivals = self.stats()["arrivals"]
            return wanted <= arrivals.keys()

        wait_until(all_in, timeout, f"{len(wanted)} jobs' webhooks", interval=0.1)
        return arrivals

    def wait_count(self, count: int, timeout: float) -> dict[str, Any]:
        wait_until(lambda: self.stats()["count"] >= count, timeout,
                   f"{count} webhooks at the receiver", interval=0.05)
        return self.stats()


# --- dispatcher throughput ----------------------------------------------------------


def create_deliveries(redis_server: RedisServer, count: int, url: str) -> None:
    """Job records ended by the real terminal transition, which creates the deliveries."""
    client = redis_server.client()
    store = JobStore(client)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with client.pipeline(transaction=False) as pipe:
        for job_id in ids:
            fields = new_record_fields(job_id, "sum_to_n_job", b'{"number": 1000}',
                                       time.time(), url)
            pipe.hset(job_key(job_id), mapping=fields)  # type: ignore[arg-type]
            pipe.expire(job_key(job_id), 3600)
        pipe.execute()
    for job_id in ids:
        store.transition(job_id, JobStatus.SUCCEEDED, {"result": b"500500"})


def dispatcher_rate(env: dict[str, str], redis_server: RedisServer, receiver: BareReceiver,
                    count: int) -> float:
    receiver.reset()
    create_deliveries(redis_server, count, receiver.url("/throughput"))
    client = redis_server.client()
    # One destination of one tenant here: its cap is the whole pool and the tenant has no
    # rate limit, so this measures the dispatcher.
    one_destination = {**env,
                       "WEBHOOK_MAX_IN_FLIGHT_PER_DESTINATION": env["WEBHOOK_MAX_IN_FLIGHT"],
                       "WEBHOOK_TENANT_MAX_PER_SECOND": "0"}
    dispatcher = start_dispatcher(one_destination, name="bench-dispatcher")
    try:
        first = float(receiver.wait_count(1, 30)["first"])
        wait_until(lambda: nothing_pending(client), 120,
                   "every delivery recorded", interval=0.01)
        done = time.time()
        stats = receiver.stats()
    finally:
        dispatcher.stop()
    if stats["count"] != count:
        raise RuntimeError(f"the receiver got {stats['count']} webhooks, expected {count}")
    return count / (done - first)


# --- the baselines -------------------------------------------------------------------


def sync_celery_rate(env: dict[str, str], receiver: BareReceiver, count: int) -> float:
    from bench.webhook_sync_task import QUEUE

    app = create_celery(Settings(_env_file=None, redis_url=env["REDIS_URL"]))  # the sender
    worker = Service(f"bench-sync-worker-{free_port()}", [
        sys.executable, "-m", "celery", "-A", "bench.webhook_sync_task", "worker",
        "-Q", QUEUE, "-c", env.get("WORKER_CONCURRENCY", "2"), "--without-mingle",
        "--without-gossip", "--loglevel=WARNING"], env).start()
    try:
        wait_until(lambda: bool(app.control.ping(timeout=0.5)), 30, "the sync Celery worker")
        receiver.reset()
        body = json.dumps({"type": "job.succeeded", "data": {"id": "x", "result": 1}})
        for i in range(count):
            app.send_task("bench_deliver_webhook", args=[receiver.url("/sync"), f"msg_{i}", body],
                          queue=QUEUE)
        stats = receiver.wait_count(count, 300)
    finally:
        worker.stop()
    return count / (float(stats["last"]) - float(stats["first"]))


def sync_loop_rate(receiver: BareReceiver, count: int) -> float:
    """The same blocking httpx.post per delivery, in a plain loop without Celery: what the
    baseline costs without its task overhead (a harsher comparison, for the record)."""
    url = receiver.url("/sync-loop")
    body = json.dumps({"type": "job.succeeded", "data": {"id": "x", "result": 1}}).encode()
    secrets = [new_webhook_secret()]
    start = time.perf_counter()
    for i in range(count):
        headers = signed_headers(f"msg_{i}", body, secrets, time.time())
        httpx.post(url, content=body, headers=headers, timeout=15).raise_for_status()
    return count / (time.perf_counter() - start)


def bare_rate(kind: str, in_flight: int, count: int, receiver: BareReceiver) -> float:
    out = subprocess.run([sys.executable, "-m", "bench.webhook_bare_client", kind,
                          str(in_flight), str(count), receiver.url("/bare")],
                         cwd=ROOT, capture_output=True, text=True, check=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return float(out.stdout.strip().splitlines()[-1])


# --- latency at a fixed rate ----------------------------------------------------------


async def submit_at_rate(gateway_url: str, callback: str, rate: float,
                         seconds: float) -> dict[str, float]:
    """Open loop: job i is submitted at start + i/rate, whatever the answers do."""
    sent: dict[str, float] = {}
    payload = {"function": "sum_to_n_job", "input": {"number": 100}, "callback_url": callback}
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one() -> None:
            t0 = time.time()
            async with session.post(f"{gateway_url}/producer/api/jobs", json=payload) as r:
                body = await r.json()
                if r.status != 202:
                    raise RuntimeError(f"submit answered {r.status}: {body}")
                sent[body["id"]] = t0

        start = time.perf_counter()
        tasks = []
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return sent


def latency_run(gateway: Gateway, receiver: BareReceiver, redis_server: RedisServer,
                seconds: float) -> dict[str, float]:
    callback = receiver.url("/latency")
    warmup = uvloop.run(submit_at_rate(gateway.url, callback, LATENCY_RATE, WARMUP_SECONDS))
    receiver.wait_arrivals(warmup, 60)
    receiver.reset()
    sent = uvloop.run(submit_at_rate(gateway.url, callback, LATENCY_RATE, seconds))
    arrivals = receiver.wait_arrivals(sent, 60)
    latencies = [1000 * (arrivals[job_id] - t0) for job_id, t0 in sent.items()]
    # Where the time went: submit to the worker's terminal transition (gateway, queue,
    # worker), and from that transition to the receiver (the webhook path itself).
    with redis_server.client().pipeline(transaction=False) as pipe:
        for job_id in sent:
            pipe.hget(job_key(job_id), "finished_at")
        finished = [float(f) for f in pipe.execute()]
    webhook = [1000 * (arrivals[job_id] - end) for job_id, end in zip(sent, finished,
                                                                        strict=True)]
    return {"jobs": len(latencies), "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99), "max_ms": max(latencies),
            "webhook_stage_p50_ms": percentile(webhook, 50),
            "webhook_stage_p99_ms": percentile(webhook, 99)}


# --- the whole run ------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--in-flight", type=int, default=50)  # the reference
    parser.add_argument("--latency-seconds", type=float, default=8.0)
    parser.add_argument("--isolation-only", action="store_true")
    args = parser.parse_args()
    quiet = args.json
    log: Callable[[str], None] = lambda text: say(text, quiet)  # noqa: E731

    # No persistence, as every Redis of `make bench` (bench/procs.py): the tests' server
    # keeps an AOF, whose fsyncs and rewrite (a fork) stall a busy disk's Redis.
    redis_server = RedisServer(extra=("--appendonly", "no")).start()
    receiver = BareReceiver().start()
    hanging = BareReceiver().start()  # another origin: another destination
    env = stack_env(redis_server.url, WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
                    WEBHOOK_SECRET=new_webhook_secret(), LOG_LEVEL="WARNING",
                    WEBHOOK_MAX_IN_FLIGHT=str(args.in_flight))
    load_before = os.getloadavg()
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "loadavg_before": [round(x, 2) for x in load_before]},
        "settings": {"runs": args.runs, "deliveries": args.deliveries,
                     "in_flight": args.in_flight, "sync_deliveries": SYNC_DELIVERIES,
                     "sync_loop_deliveries": SYNC_LOOP_DELIVERIES,
                     "httpx_deliveries": args.deliveries // HTTPX_SHARE,
                     "latency_rate": LATENCY_RATE, "latency_seconds": args.latency_seconds,
                     "warmup_seconds": WARMUP_SECONDS,
                     "per_destination": DEFAULTS.webhook_max_in_flight_per_destination},
    }
    started: list[Service] = []
    try:
        # Interleaved, so a burst of load from elsewhere hits every figure of a round alike.
        dispatcher: list[float] = []
        sync: list[float] = []
        sync_loop: list[float] = []
        bare_aiohttp: list[float] = []
        bare_httpx: list[float] = []
        bare_httpx_10: list[float] = []
        for round_ in range(1, 0 if args.isolation_only else args.runs + 1):
            log(f"round {round_}: dispatcher ({args.deliveries} deliveries, {args.in_flight} "
                "in flight), sync Celery-task baseline, bare clients ...")
            dispatcher.append(dispatcher_rate(env, redis_server, receiver, args.deliveries))
            bare_aiohttp.append(bare_rate("aiohttp", args.in_flight, args.deliveries, receiver))
            sync.append(sync_celery_rate(env, receiver, SYNC_DELIVERIES))
            sync_loop.append(sync_loop_rate(receiver, SYNC_LOOP_DELIVERIES))
            httpx_count = args.deliveries // HTTPX_SHARE
            bare_httpx.append(bare_rate("httpx", args.in_flight, httpx_count, receiver))
            bare_httpx_10.append(bare_rate("httpx", 10, httpx_count, receiver))
        log(f"latency at {LATENCY_RATE:.0f} jobs/s through gateway, worker, dispatcher ...")
        started.append(start_worker(env, name="bench-worker"))
        gateway = Gateway(env).start()
        started.append(gateway)
        started.append(start_dispatcher(env, name="bench-latency-dispatcher"))
        latency = [latency_run(gateway, receiver, redis_server, args.latency_seconds)
                   for _ in range(0 if args.isolation_only else args.runs)]
        log(f"isolation: healthy receiver's lag, alone and while {webhook_isolation.BACKLOG} "
            "deliveries hang at another destination ...")
        isolation = [webhook_isolation.one_round(gateway, redis_server, receiver, hanging,
                                                 submit_at_rate, create_deliveries)
                     for _ in range(args.runs)]
    finally:
        for service in reversed(started):
            service.stop()
        receiver.service.stop()
        hanging.service.stop()
        redis_server.stop()

    results["isolation"] = webhook_isolation.summary(
        isolation, results["settings"]["per_destination"])
    iso = results["isolation"]
    log(f"healthy receiver's lag from job end to arrival ({webhook_isolation.HEALTHY_JOBS} jobs "
        f"at {webhook_isolation.HEALTHY_RATE:.0f}/s): alone p50 "
        f"{iso['alone_p50_ms']['median']:.2f} ms, p99 {iso['alone_p99_ms']['median']:.2f} ms; "
        f"while {webhook_isolation.BACKLOG} hang elsewhere p50 "
        f"{iso['while_other_hangs_p50_ms']['median']:.2f} ms, p99 "
        f"{iso['while_other_hangs_p99_ms']['median']:.2f} ms; the hanging receiver had at "
        f"most {iso['hanging_max_in_flight']} requests open, and got its backlog "
        f"{iso['backlog_drained_s']['median']:.2f} s after it answered again")
    if args.isolation_only:
        if args.json:
            print(json.dumps(results))
        return 0
    results.update({
        "dispatcher_per_process": spread(dispatcher).as_dict(),
        "sync_celery_task_baseline": spread(sync).as_dict(),
        "sync_loop_without_celery": spread(sync_loop).as_dict(),
        "bare_aiohttp": spread(bare_aiohttp).as_dict(),
        "bare_httpx": spread(bare_httpx).as_dict(),
        "bare_httpx_10_in_flight": spread(bare_httpx_10).as_dict(),
        "latency": {"runs": latency,
                    **{key: spread([r[key] for r in latency]).as_dict()
                       for key in ("p50_ms", "p99_ms", "webhook_stage_p50_ms",
                                   "webhook_stage_p99_ms")}},
        "ratios": {"vs_sync": paired(dispatcher, sync),
                   "vs_sync_loop": paired(dispatcher, sync_loop),
                   "vs_bare": paired(dispatcher, bare_aiohttp),
                   "aiohttp_vs_httpx": paired(bare_aiohttp, bare_httpx)},
    })
    results["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"webhooks-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps(results, indent=2))

    rows = [("dispatcher, 1 process", results["dispatcher_per_process"]),
            ("sync Celery task per delivery", results["sync_celery_task_baseline"]),
            ("sync httpx.post loop, no Celery", results["sync_loop_without_celery"]),
            (f"bare aiohttp, {args.in_flight} in flight", results["bare_aiohttp"]),
            (f"bare httpx, {args.in_flight} in flight", results["bare_httpx"]),
            ("bare httpx, 10 in flight", results["bare_httpx_10_in_flight"])]
    log("\ndeliveries/s (median of rounds; every round)")
    for name, row in rows:
        log(f"  {name:<34} {row['median']:>9.1f}   {[round(r, 1) for r in row['runs']]}")
    ratios = results["ratios"]
    log(f"  per-round ratios: {ratios['vs_sync']['median']:.1f}x the sync baseline "
        f"({ratios['vs_sync_loop']['median']:.1f}x the loop without Celery), "
        f"{ratios['vs_bare']['median']:.2f}x bare aiohttp")
    lat = results["latency"]
    log(f"submit-to-received at {LATENCY_RATE:.0f} jobs/s: p50 {lat['p50_ms']['median']:.2f} ms, "
        f"p99 {lat['p99_ms']['median']:.2f} ms; of which terminal transition to received: "
        f"p50 {lat['webhook_stage_p50_ms']['median']:.2f} ms, "
        f"p99 {lat['webhook_stage_p99_ms']['median']:.2f} ms")
    log(f"load average before/after: {results['machine']['loadavg_before']} / "
        f"{results['machine']['loadavg_after']}")
    for target in webhook_targets({"status": "ok", "results": results}):
        log(f"  {target.goal}: {target.value:.2f} {target.unit} -> "
            f"{'held' if target.held else 'missed'}")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
