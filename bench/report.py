"""summary.md of one run: the targets, every figure with its spread, and for each missed
target by how much, why (with a profile excerpt) and what would close it."""

from __future__ import annotations

import math
from typing import Any

from bench.profiling import Profile
from bench.targets import Target

# Why a target can miss on this design, and what would close it; the profile named is
# printed under it as evidence.
MISS_NOTES: dict[str, tuple[str, str, str]] = {
    "rest_vs_hello": (
        "rest_submit",
        "A submit is a POST with a JSON body: besides the hello route's work, FastAPI reads "
        "and parses the body (stdlib json, content-type parsing), validates it with pydantic "
        "and solves the service dependency; the gateway then builds the record and the "
        "Celery message and waits for one Redis round trip (create.lua, batched across "
        "concurrent requests). The Redis client (redis-py's asyncio connection) is the "
        "largest single library cost left.",
        "Parse and validate the body with pydantic-core in one step "
        "(`model_validate_json` on the raw bytes) instead of FastAPI's json.loads + "
        "validation; a leaner RESP client for the one create.lua call (e.g. hiredis-backed "
        "or a minimal protocol on the event loop's transport); more gateway processes "
        "(the 2-process figures).",
    ),
    "rest_vs_reference": (
        "rest_submit",
        "See the profile: the remaining cost is HTTP/FastAPI request handling and the "
        "Redis client.",
        "As for the hello ratio.",
    ),
    "graphql_vs_reference": (
        "graphql_submit",
        "Strawberry parses and validates the GraphQL document and runs the resolver "
        "machinery on every request.",
        "Cache parsed and validated documents (strawberry's query cache extension / "
        "persisted queries), keep the resolver a thin call into JobService.",
    ),
    "poll_vs_reference": (
        "rest_poll",
        "A poll is one HGETALL plus decoding the record.",
        "Cache nothing (a poll must be fresh); decode fewer fields.",
    ),
    "e2e_c1": (
        "worker",
        "Per job our worker does two Lua transitions (STARTED, SUCCEEDED), each a round "
        "trip that also publishes the record, while bare Celery stores one result; and our "
        "reliability settings (acks_late, prefetch multiplier 1) make each pool process "
        "wait for the next message after every job, where bare Celery prefetches 4 per "
        "process and acknowledges on receipt.",
        "Batch the STARTED transition into the SUCCEEDED one for jobs shorter than a "
        "threshold (losing the STARTED event for them), or move the transitions into one "
        "pipeline with the ack; a prefetch multiplier above 1 for short jobs (a separate "
        "queue for them), which keeps acks_late safety but lets a dead worker's prefetched "
        "jobs wait for the visibility timeout.",
    ),
    "latency_p50": (
        "worker",
        "Each job passes the gateway (an HTTP hop) and two extra Redis round trips in the "
        "worker's hooks; polling adds an HTTP request per poll.",
        "Subscriptions (pushed, no polling) and the worker-side changes above.",
    ),
    "gateway_rss_flat": (
        "rest_submit",
        "Growth in the gateway's memory over 100,000 submits.",
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
            text += f" (per round {t.paired[0]:.2f}-{t.paired[1]:.2f}x)"
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
                            ("ours_no_events", "same, WORKER_TASK_EVENTS=false"),
                            ("bare", "bare Celery")):
            cells = [_fmt_spread(e2e["drain"].get(f"{side}_c{c}", {}).get("jobs_per_s", {}),
                                 " jobs/s") for c in (1, 2)]
            w(f"| {label} | {cells[0]} | {cells[1]} |")
        w("")
        lat = e2e.get("latency", {})
        w(f"### Submit to SUCCEEDED visible, at a fixed {cfg['rate']:.0f} jobs/s "
          f"({cfg['latency_jobs']:,} jobs per run, polls every {cfg['poll_interval_ms']:g} ms)")
        w("")
        w("Ours: from just before the REST POST until a poll of `GET /producer/api/sum/{id}` "
          "answers ready, until the job's Redis event (what the GraphQL subscription "
          "relays) arrives, and until the GraphQL `jobUpdated` subscription delivers "
          "SUCCEEDED. Bare Celery: a separate process calls `apply_async` at the same rate; "
          "from just before that call until a poll of the result key finds SUCCESS, and "
          "until the result backend's pub/sub message arrives.")
        w("")
        w("| observer | p50 ms | p99 ms | not seen |")
        w("|---|---|---|---|")
        names = {"poll": "polling", "event": "Redis job event",
                 "graphql_subscription": "GraphQL subscription"}
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
    w("Reproduce: `make bench` (about 8 minutes; `BENCH_QUICK=1 make bench` for a short "
      "check of the harness). Knobs: `bench/config.py`.")
    return "\n".join(out) + "\n"
