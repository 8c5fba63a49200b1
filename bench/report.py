"""summary.md of one run: the targets, every figure with its spread, and for each missed
target by how much, why (with a profile excerpt) and what would close it."""

from __future__ import annotations

import math
from typing import Any

from bench.profiling import Profile
from bench.targets import Target

# The latency observers (bench.clients), in the order the tables and charts show them.
OBSERVER_NAMES = {"submit_answered": "submit answered", "poll": "polling",
                  "event": "Redis job event", "graphql_subscription": "GraphQL subscription"}

# Why a target can miss on this design, and what would close it; the profile named is
# printed under it as evidence.
MISS_NOTES: dict[str, tuple[str, str, str]] = {
    "rest_vs_hello": (
        "rest_submit",
        "Well-formed submits take the express lane (gateway/express.py) past FastAPI's "
        "routing; besides the hello route's work a submit then reads and validates its "
        "body, builds the record and the Celery message, writes a request log line and "
        "awaits one Redis round trip (submit.lua, shared by the concurrent requests of one "
        "event-loop turn). The socket writes (`RequestResponseCycle.send`) are the largest "
        "single item; the rest has no hot spot of its own (see the profile). On a busy "
        "machine the ratio also swings with the other load (see the per-round range).",
        "More gateway processes per machine (see the 2-process figures); a request log "
        "sampled instead of one line per request.",
    ),
    "rest_vs_reference": (
        "rest_submit",
        "As for the hello ratio; the reference's figure also swings with the machine's "
        "other load.",
        "As for the hello ratio.",
    ),
    "graphql_vs_reference": (
        "graphql_submit",
        "Parsing and validation are done once per document (gateway/graphql/"
        "document_cache.py: they were about 45% of a request); POST /graphql takes the "
        "express lane to Strawberry's ASGI app (FastAPI's routing and dependency solving "
        "were about 40% of what was left); and a known-good document runs on "
        "graphql-core directly (gateway/graphql/prepared.py), past Strawberry's view and "
        "extension hooks (about a third of what was left). What remains is graphql-core's "
        "executor (building the execution context, coercing variables, running the "
        "mutation's fields serially, completing values) and Strawberry's resolver "
        "wrappers: about half of the CPU, the job service under a fifth (profile below).",
        "Beyond this the per-operation cost is graphql-core's own execution, which no "
        "cache removes: more gateway processes (the 2-process figure is about twice the "
        "1-process one), or a compiled executor for known documents.",
    ),
    "poll_vs_reference": (
        "rest_poll",
        "A poll takes the express lane too: one HGETALL (pipelined with the other polls "
        "of the same loop turn), the record's decoding, the request log line and the "
        "socket write.",
        "As for the submit: more gateway processes, a sampled request log.",
    ),
    "e2e_c1": (
        "worker",
        "Each job costs the worker's pool process two Lua transitions (STARTED, then "
        "SUCCEEDED with the job's metrics in the same call) where bare Celery stores one "
        "result, and the signal hooks around them; while Flower watches, task events add "
        "three event publishes per job in the worker's main process (the table's "
        "task-events row). With one pool process the jobs run strictly one after "
        "another, and acks_late with a prefetch multiplier of 1 puts the main process's "
        "ack and its next BRPOP (Redis round trips: in a py-spy profile of the main "
        "process during a one-process drain, kombu's QoS.ack took 18% of its samples, "
        "QoS.append 11%, _brpop_read 24%) between every two jobs, where bare Celery "
        "(prefetch 4, early ack) "
        "has its next message at hand. Measured on the way (3 interleaved runs of 1,500 "
        "jobs, one pool process): WORKER_PREFETCH_MULTIPLIER=4 gives 485 jobs/s against "
        "357 with the default of 1 and 538 for bare Celery (0.90x against 0.66x), but "
        "then a worker busy with long jobs holds up to 4 messages per process that an "
        "idle worker could run, so the default stays 1.",
        "WORKER_PREFETCH_MULTIPLIER=4 for deployments of short jobs only (the target then "
        "holds); one transition instead of two for short functions; with 2 pool "
        "processes the target holds at the default, so for trivial jobs run at least 2 "
        "per worker.",
    ),
    "latency_p50": (
        "worker",
        "Measured on the way with the queue sampled every 10 ms: when runs are slow, both "
        "of the worker's slots are taken (2 unacknowledged messages) and the queue holds "
        "up to 15-95 jobs while each job still runs in about 1 ms: the time a slot is "
        "taken per job (the main process's BRPOP, hand-off to the pool, the pool's two "
        "Lua transitions, the result back, the ack) grows under CPU contention, because "
        "each of its roughly ten process wake-ups waits for a CPU that the load client, "
        "the gateway and Redis share on 2 cores. The harness's 1 ms polls over HTTP "
        "(bare Celery's client reads Redis directly, far cheaper) add that contention, "
        "and a backlog multiplies them. Without the polls (a poll every 20 ms) the job's "
        "Redis event is as fast as bare Celery's (p50 4.0 against 4.2 ms).",
        "Fewer Redis round trips and wake-ups per job in the worker (one transition for "
        "short functions); the load client on another machine; the subscription instead "
        "of polling (no polls at all).",
    ),
    "gateway_rss_flat": (
        "rest_submit",
        "The gateway's memory grew over the submits.",
        "Find the holder with tracemalloc snapshots diffed across the run.",
    ),
    "redis_bytes": (
        "",
        "The job hash holds the input, result, timestamps and status as strings, and the "
        "index sorted set keeps one entry per job.",
        "Shorter field names or one packed field; trim the index with the record's TTL.",
    ),
}
MISS_NOTES["e2e_c2"] = MISS_NOTES["e2e_c1"]


def _fmt_spread(s: dict[str, Any], unit: str = "", digits: int = 0) -> str:
    if not s or s.get("median") is None or math.isnan(s["median"]):
        return "n/a"
    fmt = f"{{:,.{digits}f}}"
    med, low, high = (fmt.format(s[k]) for k in ("median", "min", "max"))
    return f"{med}{unit} ({low}-{high})"


def _held(t: Target) -> str:
    return {True: "✅ held", False: "❌ missed", None: "— n/a"}[t.held]


def _value(t: Target) -> str:
    if t.unavailable:
        return t.unavailable
    if math.isnan(t.value):
        return "n/a"
    if t.unit == "x":
        text = f"{t.value:.2f}x"
        if t.paired:
            text = f"{t.value:.2f}x (median of the rounds' ratios; " \
                   f"{t.paired[0]:.2f}-{t.paired[1]:.2f}x)"
        return text
    return f"{t.value:,.2f} {t.unit}" if t.unit != "bytes" else f"{t.value:,.0f} bytes"


def _need(t: Target) -> str:
    op = ">=" if t.higher_is_better else "<="
    if t.unit == "x":
        return f"{op} {t.threshold:g}x"
    return f"{op} {t.threshold:,.1f} {t.unit}" if t.unit != "bytes" else \
        f"{op} {t.threshold:,.0f} bytes"


def _profile(results: dict[str, Any], name: str) -> Profile | None:
    if name == "worker":
        data = results.get("e2e", {}).get("worker_profile")
    else:
        data = results.get("http", {}).get("profiles", {}).get(name)
    if not data or "samples" not in data:
        return None
    return Profile(data["samples"], [(str(n), float(p)) for n, p in data["own"]],
                   [(str(n), float(p)) for n, p in data["inclusive"]], data.get("error", ""))


def render(results: dict[str, Any], targets: list[Target]) -> str:
    meta = results["meta"]
    cfg = meta["config"]
    out: list[str] = []
    w = out.append
    w(f"# Benchmark results, {meta['started']}")
    w("")
    w(f"Machine: {meta['cpus']} CPUs ({meta['cpu_model']}), load average "
      f"{meta['load_start']} at the start and {meta['load_end']} at the end; commit "
      f"`{meta['commit']}`. Every figure is the median of {cfg['runs']} runs with the "
      "min-max in brackets; contenders ran side by side in the same run, rounds "
      "interleaved. All traffic on loopback; every server had its own redis-server "
      "(no persistence).")
    if meta.get("caveat"):
        w("")
        w(f"> **Caveat:** {meta['caveat']}")
    w("")
    w("## Targets")
    w("")
    w("| target | measured | needed | result | from |")
    w("|---|---|---|---|---|")
    for t in targets:
        w(f"| {t.goal} | {_value(t)} | {_need(t)} | {_held(t)} | {t.detail} |")
    w("")

    http = results.get("http", {})
    scen = http.get("scenarios", {})
    if scen:
        w(f"## HTTP: requests/s and latency (wrk, {cfg['connections']} connections, "
          f"{cfg['runs']} runs of {cfg['seconds']} s)")
        w("")
        w("Each server ran under uvicorn with the same flags (uvloop, httptools, no access "
          "log), with 1 and with 2 processes (`--workers 2`). *Jobs in Redis* counts the "
          "jobs the submits really created (a check that every 200 was a job).")
        w("")
        w("| scenario | req/s | p50 ms | p99 ms | errors | jobs in Redis / requests |")
        w("|---|---|---|---|---|---|")
        for s in scen.values():
            accepted = [r.get("accepted_jobs") for r in s["runs"]]
            check = "—"
            if all(a is not None for a in accepted):
                check = f"{sum(accepted):,} / {sum(r['requests'] for r in s['runs']):,}"
            w(f"| {s['label']} | {_fmt_spread(s['rps'])} | {_fmt_spread(s['p50_ms'], '', 1)}"
              f" | {_fmt_spread(s['p99_ms'], '', 1)} | {s['errors']} | {check} |")
        if not http.get("graphql", {}).get("available"):
            w(f"| GraphQL submitSum | not available in this build: "
              f"{http.get('graphql', {}).get('reason', '')} | | | | |")
        w("")
        w("![HTTP throughput](throughput.png)")
        w("")
        w("![HTTP latency by percentile](latency_http.png)")
        w("")
        w("### From 1 to 2 gateway processes")
        w("")
        for prefix, label in (("hello", "bare hello"), ("reference_submit", "reference submit"),
                              ("rest_submit", "REST submit"),
                              ("graphql_submit", "GraphQL submitSum")):
            one, two = scen.get(f"{prefix}_1p"), scen.get(f"{prefix}_2p")
            if one and two:
                w(f"- {label}: {one['rps']['median']:,.0f} → {two['rps']['median']:,.0f} "
                  f"req/s (x{two['rps']['median'] / one['rps']['median']:.2f})")
        w("")
        w("On 2 cores the load generator, Redis and the second process share the CPUs, "
          "so a second process cannot double the figure here.")
        w("")

    e2e = results.get("e2e", {})
    if e2e:
        w(f"## Jobs to SUCCEEDED ({cfg['e2e_jobs']:,} trivial jobs per run)")
        w("")
        w("`sum_to_n_job(number=1)`, for bare Celery the same function as a plain task with "
          "a Redis result backend and default settings. The queue is filled first (through "
          "the gateway for ours, with `apply_async` for bare Celery), then handed to the "
          "running worker in one `RENAME`; throughput is jobs / (last finish - first "
          "finish), from the records' `finished_at` and the results' `date_done`.")
        w("")
        w("| | 1 worker process | 2 worker processes |")
        w("|---|---|---|")
        for side, label in (("ours", "gateway worker (hooks, job store), defaults"),
                            ("ours_events", "same, task events on (as while Flower watches)"),
                            ("bare", "bare Celery")):
            cells = [_fmt_spread(e2e["drain"].get(f"{side}_c{c}", {}).get("jobs_per_s", {}),
                                 " jobs/s") for c in (1, 2)]
            w(f"| {label} | {cells[0]} | {cells[1]} |")
        w("")
        cpu = {side: e2e["drain"].get(f"{side}_c2", {}).get("redis_cpu_us_per_job", {})
               for side in ("ours", "ours_events", "bare")}
        if cpu["ours"]:
            w("Redis CPU per job, submit to result (redis-server user + system time / "
              f"jobs, 2 worker processes): ours {_fmt_spread(cpu['ours'], ' µs')}, with "
              f"task events on {_fmt_spread(cpu['ours_events'], ' µs')}, bare Celery "
              f"{_fmt_spread(cpu['bare'], ' µs')}.")
            w("")
        lat = e2e.get("latency", {})
        w(f"### Submit to SUCCEEDED visible, at a fixed {cfg['rate']:.0f} jobs/s "
          f"({cfg.get('latency_runs', cfg['runs'])} runs of {cfg['latency_jobs']:,} jobs, "
          f"polls every {cfg['poll_interval_ms']:g} ms, backing off after 20 polls)")
        w("")
        w("Ours: from just before the REST POST until the POST is answered, until a poll "
          "of `GET /producer/api/sum/{id}` answers ready, and until the job's Redis event "
          "(what the GraphQL subscription relays) is published; in a separate run of each "
          "round, as a client that subscribes instead of polling, until the GraphQL "
          "`jobUpdated` subscription (8 sockets) delivers SUCCEEDED. Bare Celery: a "
          "separate process calls `apply_async` at the same rate; "
          "from just before that call until a poll of the result key finds SUCCESS, and "
          "until the result backend's pub/sub message arrives.")
        w("")
        w("| observer | p50 ms | p99 ms | not seen |")
        w("|---|---|---|---|")
        names = OBSERVER_NAMES
        for side, who in (("ours", "gateway"), ("bare", "bare Celery")):
            observers = lat.get(side, {}).get("observers", {})
            for obs in sorted(observers, key=list(names).index):
                d = observers[obs]
                w(f"| {who}: {names.get(obs, obs)} | {_fmt_spread(d['p50_ms'], '', 2)} | "
                  f"{_fmt_spread(d['p99_ms'], '', 2)} | {d['missing']} |")
        if "graphql_subscription" not in lat.get("ours", {}).get("observers", {}):
            w("| gateway: GraphQL subscription | not available in this build | | |")
        for note in lat.get("ours", {}).get("notes", []) + lat.get("bare", {}).get("notes", []):
            w(f"\nNote: {note}")
        w("")
        w("![Jobs to SUCCEEDED](e2e.png)")
        w("")

    mem = results.get("memory", {})
    if mem:
        gt, wt = mem["gateway_trend"], mem["worker_trend"]
        samples = mem["samples"]
        w(f"## Memory over {mem['submits']:,} submits")
        w("")
        w(f"Submitted with wrk at {mem['submit_rps']:,.0f}/s while a 2-process worker ran "
          f"(it took {mem['consumed']:,} of them in the run). RSS sampled every 0.5 s; the "
          "trend is the least-squares slope over the last two thirds (the first third is "
          "warm-up).")
        w("")
        w("| process | RSS at start → end | trend over the last 2/3 |")
        w("|---|---|---|")
        if samples:
            w(f"| gateway | {samples[0]['gateway_rss'] / 2**20:.1f} → "
              f"{max(s['gateway_rss'] for s in samples[-5:]) / 2**20:.1f} MiB | "
              f"{gt['slope_bytes_per_1000']:+,.0f} bytes / 1,000 submits "
              f"({gt['window_growth_bytes'] / 2**20:+.2f} MiB) |")
            w(f"| worker (all processes) | {samples[0]['worker_rss'] / 2**20:.1f} → "
              f"{samples[-1]['worker_rss'] / 2**20:.1f} MiB | "
              f"{wt['slope_bytes_per_1000']:+,.0f} bytes / 1,000 jobs "
              f"({wt['window_growth_bytes'] / 2**20:+.2f} MiB) |")
        w("")
        w("The worker's main process grows by about half a KiB per job for as long as the "
          "jobs' hard time limit (WAIT_MAX_SECONDS + 10 s by default): Celery schedules a "
          "time-limit timer for every job and a cancelled timer stays in the timer heap "
          "until its deadline. The growth stops there (it is bounded by jobs/s x time "
          "limit); bare Celery, without time limits, stays flat.")
        w("")
        drain = e2e.get("drain", {})
        ours, bare = drain.get("ours_c2", {}), drain.get("bare_c2", {})
        if ours:
            idx = ours["runs"][-1].get("index_bytes_per_entry", math.nan)
            w("Redis per finished job: "
              f"{_fmt_spread(ours['redis_bytes_per_job'], ' bytes')} by `INFO memory` "
              f"(used_memory after the jobs finished minus before they were submitted, / "
              f"jobs); `MEMORY USAGE` of one job hash "
              f"{_fmt_spread(ours['record_memory_usage'], ' bytes')}, plus about "
              f"{idx:,.0f} bytes per entry of the job index. Bare Celery's result: "
              f"{_fmt_spread(bare.get('redis_bytes_per_job', {}), ' bytes')}.")
        w("")
        w("![Memory](memory.png)")
        w("")

    hooks = results.get("webhooks", {})
    w("## Webhooks")
    w("")
    if hooks.get("status") == "ok":
        import json

        w("From `bench/webhooks_bench.py`:")
        w("")
        w("```json")
        w(json.dumps(hooks["results"], indent=2)[:6000])
        w("```")
    else:
        w(f"Webhook figures: {hooks.get('status', 'missing')}: "
          f"{hooks.get('reason', 'bench/webhooks_bench.py is not in this build')}.")
    w("")

    missed = [t for t in targets if t.held is False]
    if missed:
        w("## Missed targets: by how much, why, and what would close them")
        w("")
        for t in missed:
            profile_name, why, fix = MISS_NOTES.get(t.key, ("", "", ""))
            w(f"### {t.goal}: {t.gap}")
            w("")
            w(f"Measured: {t.detail}.")
            w("")
            if why:
                w(f"Why: {why}")
                w("")
            if fix:
                w(f"What would close it: {fix}")
                w("")
            profile = _profile(results, profile_name) if profile_name else None
            if profile is not None:
                w(f"Profile excerpt ({profile_name}):")
                w("")
                w("```")
                w(profile.excerpt())
                w("```")
                w("")

    profiles = results.get("http", {}).get("profiles", {})
    if profiles or e2e.get("worker_profile"):
        w("## Profiles (py-spy, separate runs under the same load)")
        w("")
        for name in [*profiles, "worker"]:
            profile = _profile(results, name)
            if profile is None:
                continue
            w(f"<details><summary>{name}</summary>")
            w("")
            w("```")
            w(profile.excerpt(20))
            w("```")
            w("</details>")
            w("")
    w("Reproduce: `make bench` (about 9.5 minutes; `BENCH_QUICK=1 make bench` for a short "
      "check of the harness). Knobs: `bench/config.py`.")
    return "\n".join(out) + "\n"
