"""summary.md of one run, written from its results.json alone: the targets, every figure
with its spread, and for each missed target by how much, why (with a profile excerpt)
and what would close it. No figure is typed in here: each one is read from the results,
and a figure the run did not measure is not printed (`tests/unit/project/test_bench_latest.py`
checks every number of bench/latest/summary.md against its results.json).

`python -m bench.report DIR` writes DIR/summary.md again from DIR/results.json (after a
change of wording here, without running the benchmark again)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import fmt
from bench.config import http_runs
from bench.profiling import Profile
from bench.results_io import load
from bench.targets import Target

# The latency observers (bench.clients), in the order the tables and charts show them.
OBSERVER_NAMES = {"submit_answered": "submit answered", "poll": "polling",
                  "event": "Redis job event", "graphql_subscription": "GraphQL subscription"}
BUSY_LOAD = 0.5  # load average per CPU at the start above which figures are noisy
PRODUCTION_ROWS = (("rest_submit", "REST submit"), ("rest_poll", "REST poll"),
                   ("graphql_submit", "GraphQL submitSum"))
SCALING_ROWS = (("hello", "bare hello"), ("reference_submit", "reference submit"),
                ("rest_submit", "REST submit"), ("graphql_submit", "GraphQL submitSum"))
WORKER_ROWS = (("ours", "gateway worker (hooks, job store), prefetch 1"),
               ("ours_events", "same, task events on (as while Flower watches)"),
               ("ours_prefetch4", "same, WORKER_PREFETCH_MULTIPLIER=4"),
               ("bare", "bare Celery"))

Results = dict[str, Any]
# Why a target can miss on this design, and what would close it, with the name of the
# profile printed under it as evidence: (profile, why, what would close it).
Note = Callable[[Results], tuple[str, str, str]]


def _profile_data(results: Results, name: str) -> dict[str, Any] | None:
    data = results.get("e2e", {}).get("profiles", {}).get(name) or \
        results.get("http", {}).get("profiles", {}).get(name)
    return data if data and "samples" in data else None


def _profile(results: Results, name: str) -> Profile | None:
    data = _profile_data(results, name)
    if data is None:
        return None
    return Profile(data["samples"], [(str(n), float(p)) for n, p in data["own"]],
                   [(str(n), float(p)) for n, p in data["inclusive"]], data.get("error", ""))


def _note_rest(_: Results) -> tuple[str, str, str]:
    return ("rest_submit",
            "Well-formed submits take the express lane (gateway/rest/express.py) past FastAPI's "
            "routing; besides the hello route's work a submit then reads and validates its "
            "body, builds the record and the Celery message, writes a request log line and "
            "awaits one Redis round trip (submit.lua, shared by the concurrent requests of "
            "one event-loop turn). The socket writes (`RequestResponseCycle.send`) are the "
            "largest single item; the rest has no hot spot of its own (see the profile). On "
            "a busy machine the ratio also swings with the other load (see the per-round "
            "range).",
            "More gateway processes per machine (see the 2-process figures); a request log "
            "sampled instead of one line per request.")


def _note_graphql(_: Results) -> tuple[str, str, str]:
    return ("graphql_submit",
            "Parsing and validation are done once per document (gateway/graphql/"
            "document_cache.py); POST /graphql takes the express lane to Strawberry's ASGI "
            "app, past FastAPI's routing and dependency solving; and a known-good document "
            "runs on graphql-core directly (gateway/graphql/prepared.py), past Strawberry's "
            "view and extension hooks; a known single-field operation such as this one skips "
            "the executor too (gateway/graphql/compiled.py: its own resolver, the selected "
            "fields read by their types). What remains over a REST submit is the GraphQL "
            "request itself: a larger body to read and decode, the document looked up, the "
            "resolver's typed object and its projection, the answer encoded (profile below).",
            "More gateway processes (see the 2-process figure); persisted queries make the "
            "request smaller.")


def _note_poll(_: Results) -> tuple[str, str, str]:
    return ("rest_poll",
            "A poll takes the express lane too: one script call for the polls of the same "
            "loop turn (tasks/jobs/get_records.lua), the record's decoding, the request log "
            "line and the socket write. The reference's poll is the noisier row on a busy "
            "machine (see the per-round range).",
            "As for the submit: more gateway processes, a sampled request log.")


def _note_graphql_job(_: Results) -> tuple[str, str, str]:
    return ("graphql_job",
            "job(id) is a compiled plan (gateway/graphql/compiled.py) over the same job "
            "service call as the REST poll; on top of the poll it reads and decodes a POST "
            "body, looks the document up, coerces the id, and builds the typed Job the "
            "resolver returns before projecting the selected fields (times are written only "
            "when selected: gateway/graphql/timestamps.py).",
            "More gateway processes; persisted queries (a smaller body).")


def _note_scaling(_: Results) -> tuple[str, str, str]:
    return ("",
            "The detail gives the CPU the 2-process runs used, in cores: when every core is "
            "busy, the load generator, Redis, NGINX and the two gateways share them, and a "
            "second process can only take CPU from the others.",
            "More cores (or the load generator on another machine): the processes share no "
            "lock, and Redis used a fraction of one core.")


def _note_worker(results: Results) -> tuple[str, str, str]:
    focus = (_profile_data(results, "worker_main_c1") or {}).get("focus", [])
    shares = ", ".join(f"{name} {pct:.0f}%" for name, pct in focus if pct >= 0.5)
    measured = f"; in the main process's profile below, inclusive: {shares}" if shares else ""
    targets = fmt.targets(results)
    t, two = targets.get("e2e_c1"), targets.get("e2e_c2")
    prefetch = t.figures.get("prefetch4_ratio") if t else None
    closes = ""
    if prefetch is not None and t is not None:
        verdict = "the target then holds" if prefetch >= t.threshold else \
            "not enough for the target here"
        closes = (f"the short queue's default prefetch of 4 (in this run {prefetch:.2f}x with "
                  f"one pool process: {verdict}); ")
    return ("worker_main_c1",
            "Each job costs the worker's pool process two Lua transitions (STARTED, then "
            "SUCCEEDED with the job's metrics in the same call; each one EVALSHA on a "
            "connection the process holds, tasks/redis/direct_script.py) where bare Celery "
            "stores one result, and the signal hooks around them; while Flower watches, task "
            "events add three event publishes per job in the worker's main process (the "
            "table's task-events row). With one pool process the jobs run strictly one "
            "after another. The late ack and each delivery's unacked entry are sent without "
            "waiting for Redis (worker/jobs/pipelined_acks.py), but with a prefetch multiplier "
            "of 1 the next message is fetched only once it is made (a BRPOP round "
            f"trip{measured}) between every two jobs, where bare Celery (prefetch 4, early "
            "ack) has its next message at hand. A larger prefetch (the table's "
            "WORKER_PREFETCH_MULTIPLIER=4 row) lets a worker busy with long jobs hold "
            "messages that an idle worker could run, so it "
            "is the short queue's default (4) and the long queue's stays 1.",
            f"{closes}one transition instead of two for short functions"
            + ("; with two pool processes the target held at prefetch 1 in this run, so "
               "for trivial jobs run at least two per worker." if two and two.held else "."))


def _note_queues(results: Results) -> tuple[str, str, str]:
    beside = results["queues"]["beside_over_alone"]
    return ("",
            f"The long job costs the short queue little: beside it, the short queue's worker "
            f"drains {fmt.ratio(beside)} of what the same worker drains with no long queue at "
            "all. What is left is the cost of a job at prefetch 4, the worker rows' gap "
            "(their note): two Lua transitions per job in the pool process, each a round trip "
            "the pool process waits for, where bare Celery stores one result.",
            "one transition instead of two for short functions (as for the worker rows).")


def _note_latency(results: Results) -> tuple[str, str, str]:
    lat = results.get("e2e", {}).get("latency", {})
    ours = lat.get("ours", {}).get("observers", {}).get("event", {}).get("p50_ms")
    bare = lat.get("bare", {}).get("observers", {}).get("event", {}).get("p50_ms")
    events = ""
    if ours and bare:
        events = (" The job's Redis event, which no poll waits for, came at p50 "
                  f"{fmt.figure(ours['median'], 2)} ms against bare Celery's "
                  f"{fmt.figure(bare['median'], 2)} ms in this run.")
    return ("worker",
            "The time a worker slot is taken per job (the main process's BRPOP, hand-off "
            "to the pool, the pool's two Lua transitions, the result back, the ack) grows "
            "under CPU contention: each of its process wake-ups waits for a CPU that the "
            "load client, the gateway and Redis share. The harness's polls over HTTP (bare "
            "Celery's client reads Redis directly, far cheaper) add to that contention, "
            f"and a backlog multiplies them.{events}",
            "Fewer Redis round trips and wake-ups per job in the worker (one transition for "
            "short functions); the load client on another machine; the subscription instead "
            "of polling (no polls at all).")


def _note_rss(_: Results) -> tuple[str, str, str]:
    return ("rest_submit", "The gateway's memory grew over the submits.",
            "Find the holder with tracemalloc snapshots diffed across the run.")


def _note_redis(_: Results) -> tuple[str, str, str]:
    return ("", "The job hash holds the input, result, timestamps and status as strings, and "
            "the index sorted set keeps one entry per job.",
            "Shorter field names or one packed field; trim the index with the record's TTL.")


def _note_webhook_bare(_: Results) -> tuple[str, str, str]:
    return ("", "The dispatcher process is busy, not waiting (py-spy with idle time counted): "
            "per delivery it does what the bare client does not (renders the envelope from "
            "the job snapshot, signs it, claims and records it through Lua), and its POST "
            "itself costs more than the bare one (the signature headers, a timeout, the "
            "SSRF-guarded connector); on a busy machine the ratio also swings with the "
            "other load (see the per-round range). Fewer Redis round trips did not help: "
            "recording and claiming in one pipeline measured the same.",
            "More dispatcher processes (they share the work through Redis); less Python per "
            "delivery (the envelope rendered without decoding the stored JSON).")


def _note_webhook_latency(_: Results) -> tuple[str, str, str]:
    return ("", "The submit-to-webhook time includes the gateway, the queue and the Celery "
            "worker before the webhook path starts at the terminal transition (the figures "
            "above give the webhook stage alone). A noisy moment that lets the worker fall "
            "behind shows in the p99.",
            "As for the worker's latency: fewer round trips per job, the load client on "
            "another machine.")


MISS_NOTES: dict[str, Note] = {
    "rest_vs_hello": _note_rest, "rest_vs_reference": _note_rest,
    "graphql_vs_reference": _note_graphql, "poll_vs_reference": _note_poll,
    "persisted_vs_rest": _note_graphql, "persisted_vs_reference": _note_graphql,
    "graphql_vs_rest": _note_graphql, "graphql_job_vs_poll": _note_graphql_job,
    "rest_submit_scaling": _note_scaling, "graphql_submit_scaling": _note_scaling,
    "e2e_c1": _note_worker, "e2e_c2": _note_worker, "latency_p50": _note_latency,
    "gateway_rss_flat": _note_rss, "redis_bytes": _note_redis,
    "webhook_vs_bare": _note_webhook_bare, "webhook_p50": _note_webhook_latency,
    "webhook_p99": _note_webhook_latency, "queues_vs_bare": _note_queues,
}


def render(results: Results) -> str:
    meta = results["meta"]
    cfg = meta["config"]
    targets = list(fmt.targets(results).values())
    out: list[str] = []
    w = out.append
    w(f"# Benchmark results, {meta['started']}")
    w("")
    w(f"Machine: {meta['cpus']} CPUs ({meta['cpu_model']}), Python {meta['python']}, "
      f"{meta.get('redis', 'redis-server')}; load average {fmt.load(meta['load_start'])} at "
      f"the start and {fmt.load(meta.get('load_end'))} at the end; commit `{meta['commit']}`; "
      f"the run took {fmt.figure(meta.get('seconds'))} s. Every figure is the median of "
      f"{cfg['runs']} runs ({http_runs(cfg)} for HTTP throughput) with the min-max in "
      "brackets; contenders ran side by side in the same run, rounds interleaved. All "
      "traffic on loopback; every server had its own redis-server (no persistence). The "
      "data behind every figure: results.json.")
    load_start = meta["load_start"][0]
    if load_start / meta["cpus"] > BUSY_LOAD:
        w("")
        w(f"> **Caveat:** the machine was busy when the run started (load average "
          f"{load_start:.2f} on {meta['cpus']} CPUs): other work shared the CPUs, so absolute "
          "figures are low and noisy. The ratios compare contenders measured side by side "
          "under the same noise; re-run on a quiet machine for the absolute figures.")
    if results.get("error"):
        w("")
        w("> **The run failed;** the figures below are what it measured before that "
          "(results.json has the error).")
    w("")
    w("## Targets")
    w("")
    w("| target | measured | needed | result | from |")
    w("|---|---|---|---|---|")
    for t in targets:
        w(f"| {t.goal} | {fmt.value(t)} | {fmt.need(t)} | {fmt.held(t)} | {fmt.detail(t)} |")
    w("")
    _http(results, w)
    _e2e(results, w)
    _memory(results, w)
    _listing(results, w)
    for line in watching_section(results):
        w(line)
    _webhooks(results, w)
    _progress(results, w)
    _queues(results, w)
    _misses(results, targets, w)
    _profiles(results, w)
    w("Reproduce: `make bench` (`BENCH_QUICK=1 make bench` for a short check of the "
      "harness). Knobs: `bench/config.py`; this run's are in results.json (`meta.config`).")
    return "\n".join(out) + "\n"


def growth_base(scen: dict[str, Any], prefix: str) -> str:
    """The 1-process row a 2-process row grows from: the gateway's 2 processes run behind
    NGINX, so their 1 process behind NGINX too, where the run measured it."""
    return f"{prefix}_nginx_1p" if f"{prefix}_nginx_1p" in scen else f"{prefix}_1p"


def _http(results: Results, w: Callable[[str], None]) -> None:
    cfg = results["meta"]["config"]
    http = results.get("http", {})
    scen = http.get("scenarios", {})
    if not scen:
        return
    w(f"## HTTP: requests/s and latency (wrk, {cfg['connections']} connections, "
      f"{http_runs(cfg)} runs of {cfg['seconds']} s)")
    w("")
    if "rest_submit_nginx_1p" in scen:
        w("Each server ran under uvicorn with the same flags (uvloop, httptools, no access "
          "log), with one and with two processes: `--workers 2` for the bare hello and the "
          "reference, and for the gateway the way `make up` runs GATEWAY_PROCESSES=2, two "
          "uvicorns on two ports behind NGINX (least_conn, kept-alive upstream connections; "
          "its configuration, access log formatted to /dev/null); its one process also "
          "behind that NGINX, for the growth. *Jobs in Redis* counts the jobs the submits "
          "really created (a check that every 200 was a job).")
    else:
        w("Each server ran under uvicorn with the same flags (uvloop, httptools, no access "
          "log), with one and with two processes (`--workers`). *Jobs in Redis* counts the "
          "jobs the submits really created (a check that every 200 was a job).")
    w("")
    w("| scenario | req/s | p50 ms | p99 ms | errors | jobs in Redis / requests |")
    w("|---|---|---|---|---|---|")
    for s in scen.values():
        check = "—" if s["accepted_jobs"] is None else \
            f"{s['accepted_jobs']:,} / {s['requests']:,}"
        w(f"| {s['label']} | {fmt.spread(s['rps'])} | {fmt.spread(s['p50_ms'], '', 1)}"
          f" | {fmt.spread(s['p99_ms'], '', 1)} | {s['errors']} | {check} |")
    graphql = http.get("graphql", {})
    if not graphql.get("available"):
        w(f"| GraphQL submitSum | not available in this build: {graphql.get('reason', '')} "
          "| | | | |")
    w("")
    w("![HTTP throughput](throughput.png)")
    w("")
    w("![HTTP latency by percentile](latency_http.png)")
    w("")
    ratios = http.get("ratios", {})
    prod = http.get("production")
    if prod:
        w("### The production configuration")
        w("")
        w(f"The rows marked *API key + rate limit* ran against a gateway with API keys on "
          f"(the client sends `{prod['key_header']}`) and a per-key rate limit of "
          f"{prod['rate_limit_per_second']:,}/s with a burst of {prod['rate_limit_burst']:,}, "
          "far above what one process answers: every request pays for the key check and "
          "the token bucket, and none is refused (see the errors column). Against the "
          "open rows in the same rounds (median of the per-round ratios, min-max):")
        w("")
        for prefix, label in PRODUCTION_ROWS:
            p = ratios.get(f"{prefix}_prod_1p/{prefix}_1p")
            if p:
                w(f"- {label}: {fmt.ratio(p)}")
        w("")
    acks = ratios.get("rest_submit_acks_1p/rest_submit_replicated_1p")
    if acks:
        w("### Replica acknowledgements")
        w("")
        w("The row *REDIS_MIN_REPLICA_ACKS=1* ran against a primary with one replica on "
          "loopback: each submit (each batch of concurrent ones) is answered once Redis "
          "`WAIT` says the replica has it. Against the same primary without acks: "
          f"{fmt.ratio(acks)}; against the plain REST row (no replica): "
          f"{fmt.ratio(ratios.get('rest_submit_acks_1p/rest_submit_1p'))}.")
        w("")
    w("### From 1 to 2 gateway processes")
    w("")
    for prefix, label in SCALING_ROWS:
        base = growth_base(scen, prefix)
        one, two = scen.get(base), scen.get(f"{prefix}_2p")
        p = ratios.get(f"{prefix}_2p/{base}")
        if base != f"{prefix}_1p":
            label += " (behind NGINX)"
        if one and two and p:
            w(f"- {label}: {fmt.figure(one['rps']['median'])} → "
              f"{fmt.figure(two['rps']['median'])} req/s (x{fmt.figure(p['of_medians'], 2)})")
    w("")
    w(f"On {results['meta']['cpus']} cores the load generator, Redis and the second process "
      "share the CPUs.")
    w("")


def _e2e(results: Results, w: Callable[[str], None]) -> None:
    cfg = results["meta"]["config"]
    e2e = results.get("e2e", {})
    if not e2e:
        return
    drain = e2e.get("drain", {})
    w(f"## Jobs to SUCCEEDED ({cfg['e2e_jobs']:,} trivial jobs per run)")
    w("")
    w("`sum_to_n_job`, for bare Celery the same function as a plain task with a Redis "
      "result backend and default settings. The queue is filled first (through the gateway "
      "for ours, with `apply_async` for bare Celery), then handed to the running worker in "
      "one `RENAME`; throughput is jobs / (last finish - first finish), from the records' "
      "`finished_at` and the results' `date_done`.")
    w("")
    w("| | 1 worker process | 2 worker processes |")
    w("|---|---|---|")
    for side, label in WORKER_ROWS:
        cells = [fmt.spread(drain[f"{side}_c{c}"]["jobs_per_s"], " jobs/s")
                 if f"{side}_c{c}" in drain else "—" for c in (1, 2)]
        if cells != ["—", "—"]:
            w(f"| {label} | {cells[0]} | {cells[1]} |")
    w("")
    cpu = {side: drain.get(f"{side}_c2", {}).get("redis_cpu_us_per_job")
           for side in ("ours", "ours_events", "bare")}
    if cpu["ours"]:
        w("Redis CPU per job, submit to result (redis-server user + system time / jobs, "
          f"with two worker processes): ours {fmt.spread(cpu['ours'], ' µs')}, with task events on "
          f"{fmt.spread(cpu['ours_events'], ' µs')}, bare Celery "
          f"{fmt.spread(cpu['bare'], ' µs')}.")
        w("")
    lat = e2e.get("latency", {})
    w(f"### Submit to SUCCEEDED visible, at a fixed {cfg['rate']:.0f} jobs/s "
      f"({cfg['latency_runs']} runs of {cfg['latency_jobs']:,} jobs, polls every "
      f"{cfg['poll_interval_ms']:g} ms, backing off after {lat.get('fast_polls')} polls)")
    w("")
    w("Ours: from just before the REST POST until the POST is answered, until a poll of "
      "`GET /producer/api/sum/{id}` answers ready, and until the job's Redis event (what "
      "the GraphQL subscription relays) is published; in a separate run of each round, as "
      "a client that subscribes instead of polling, until the GraphQL `jobUpdated` "
      f"subscription ({lat.get('subscription_sockets')} sockets) delivers SUCCEEDED. Bare "
      "Celery: a separate process calls `apply_async` at the same rate; from just before "
      "that call until a poll of the result key finds SUCCESS, and until the result "
      "backend's pub/sub message arrives.")
    w("")
    w("| observer | p50 ms | p99 ms | not seen |")
    w("|---|---|---|---|")
    for side, who in (("ours", "gateway"), ("bare", "bare Celery")):
        observers = lat.get(side, {}).get("observers", {})
        for obs in sorted(observers, key=list(OBSERVER_NAMES).index):
            d = observers[obs]
            w(f"| {who}: {OBSERVER_NAMES[obs]} | {fmt.spread(d['p50_ms'], '', 2)} | "
              f"{fmt.spread(d['p99_ms'], '', 2)} | {d['missing']} |")
    if "graphql_subscription" not in lat.get("ours", {}).get("observers", {}):
        w("| gateway: GraphQL subscription | not available in this build | | |")
    for note in lat.get("ours", {}).get("notes", []) + lat.get("bare", {}).get("notes", []):
        w(f"\nNote: {note}")
    w("")
    w("![Jobs to SUCCEEDED](e2e.png)")
    w("")


def _progress(results: Results, w: Callable[[str], None]) -> None:
    progress = results.get("progress", {})
    if not progress:
        return
    w(f"## Progress reports: sum_to_n_job({progress['number']:,})")
    w("")
    w("`sum_to_n_job` calls `progress(done, total)` every 1,000,000 numbers; a report is "
      f"written at most once per {progress['interval_ms']} ms (PROGRESS_INTERVAL_MS) and "
      "published to the job's followers. Against the same loop without any progress call, "
      "run by the same one-process worker, rounds interleaved (the order alternating); a "
      "run's time is its record's finished_at - started_at.")
    w("")
    w("| | run time, s | reports written |")
    w("|---|---|---|")
    w(f"| with progress | {fmt.spread(progress['with_progress_s'], '', 3)} | "
      f"{fmt.spread(progress['reports_written'])} |")
    w(f"| without | {fmt.spread(progress['without_progress_s'], '', 3)} | — |")
    w("")
    w(f"With / without, per round: {fmt.ratio(progress['ratio'], 3)}.")
    w("")


def _queues(results: Results, w: Callable[[str], None]) -> None:
    queues = results.get("queues", {})
    if not queues:
        return
    w("## Short jobs beside a long one: a worker per queue")
    w("")
    w(f"`python -m worker` with its defaults for both queues and one pool process per queue "
      f"drains {queues['jobs']:,} trivial jobs from the short queue (prefetch 4) while a "
      f"`wait_and_return({queues['long_seconds']:g})` runs on the long queue the whole time; "
      "bare Celery (one pool process, prefetch 4) drains the same jobs. Rounds interleaved.")
    w("")
    w("| | jobs/s |")
    w("|---|---|")
    w(f"| ours, beside the long job | {fmt.spread(queues['ours_jobs_per_s'])} |")
    w(f"| ours, the short queue alone (`-Q short`, no long job) | "
      f"{fmt.spread(queues['alone_jobs_per_s'])} |")
    w(f"| bare Celery | {fmt.spread(queues['bare_jobs_per_s'])} |")
    w("")
    w(f"Ours / bare, per round: {fmt.ratio(queues['ratio'])}; beside the long job / the short "
      f"queue alone: {fmt.ratio(queues['beside_over_alone'])}.")
    w("")


def watching_rows(data: Results) -> list[tuple[str, str, str, str, str]]:
    """Per way of watching: (way, job end to seen p50, p99, gateway CPU per watched job,
    requests per job), for the summary and the README."""
    return [(way["label"], fmt.spread(way["p50_ms"], " ms", 1),
             fmt.spread(way["p99_ms"], " ms", 1), fmt.spread(way["cpu_ms_per_job"], " ms", 2),
             fmt.spread(way["requests_per_job"], "", 1))
            for way in data["ways"].values()]


def watching_section(results: Results) -> list[str]:
    data = results.get("watching")
    if not data:
        return []
    s = data["settings"]
    lines = [
        f"## Watching {s['jobs']:,} jobs at once: polling, long polling, Server-Sent Events",
        "",
        f"Per job one client (`bench/watching.py`), {s['runs']} interleaved rounds: polling "
        f"`GET /producer/api/sum/{{id}}` every {s['poll_seconds']:g} s (the reference's load "
        f"test), long-polling it with `?wait={s['long_poll_wait']:g}`, or following "
        "`GET /producer/api/jobs/{id}/events`. The jobs wait in a held queue while the "
        f"clients watch for {s['idle_seconds']:g} s, then the worker runs them. *Job end to "
        "seen*: from the record's `finished_at` to the client reading the final state. "
        "*Gateway CPU*: user + system time of the gateway process over the watch, per job.",
        "",
        "| way | job end to seen, p50 | p99 | gateway CPU per watched job | requests per job |",
        "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in watching_rows(data)]
    missed = sum(way["not_seen"] for way in data["ways"].values())
    if missed:
        lines += ["", f"Not seen within the run's time limit: {missed} jobs."]
    return [*lines, ""]


def _memory(results: Results, w: Callable[[str], None]) -> None:
    mem = results.get("memory", {})
    if not mem:
        return
    gt, wt = mem["gateway_trend"], mem["worker_trend"]
    w(f"## Memory over {mem['submits']:,} submits")
    w("")
    w(f"Submitted with wrk at {fmt.figure(mem['submit_rps'])}/s while a "
      f"{mem['worker_processes']}-process worker ran (it took {mem['consumed']:,} of them "
      "in the run). RSS sampled every "
      f"{mem['sample_seconds']:g} s; the trend is the least-squares slope over the last two "
      "thirds (the first third is warm-up).")
    w("")
    w("| process | RSS at start → end | trend over the last two thirds |")
    w("|---|---|---|")
    for name, label, trend, unit in (("gateway", "gateway", gt, "submit"),
                                     ("worker", "worker (all processes)", wt, "job")):
        start, end = (mem[f"{name}_rss_{at}"] / 2**20 for at in ("start", "end"))
        w(f"| {label} | {start:.1f} MiB → {end:.1f} MiB | "
          f"{fmt.figure(trend['slope_bytes_per_unit'], 2)} bytes per {unit} "
          f"({fmt.figure(fmt.num(trend['window_growth_bytes']) / 2**20, 2)} MiB) |")
    w("")
    w("The worker's main process keeps a cancelled time-limit timer per job until the "
      "job's hard time limit (WAIT_MAX_SECONDS plus a margin, by default) has passed: "
      "Celery schedules one for every job and a cancelled timer stays in the timer heap "
      "until its deadline. That growth stops there (it is bounded by jobs/s x time "
      "limit); bare Celery, without time limits, stays flat.")
    w("")
    drain = results.get("e2e", {}).get("drain", {})
    ours, bare = drain.get("ours_c2", {}), drain.get("bare_c2", {})
    if ours:
        idx = ours["runs"][-1].get("index_bytes_per_entry")
        w("Redis per finished job: "
          f"{fmt.spread(ours['redis_bytes_per_job'], ' bytes')} by `INFO memory` "
          "(used_memory after the jobs finished minus before they were submitted, / jobs); "
          f"`MEMORY USAGE` of one job hash {fmt.spread(ours['record_memory_usage'], ' bytes')}"
          f", plus about {fmt.figure(idx)} bytes per entry of the job index. Bare Celery's "
          f"result: {fmt.spread(bare.get('redis_bytes_per_job'), ' bytes')}.")
    w("")
    w("![Memory](memory.png)")
    w("")


def webhook_rows(data: Results) -> list[tuple[str, str]]:
    """The webhook figures as (figure, value) rows, for the summary and the README."""
    s = data["settings"]
    ratios = data["ratios"]
    lat = data["latency"]
    return [
        (f"dispatcher, 1 process, {s['in_flight']} in flight",
         fmt.spread(data["dispatcher_per_process"], " deliveries/s")),
        (f"sync Celery task per delivery ({s['sync_deliveries']:,} per round)",
         fmt.spread(data["sync_celery_task_baseline"], "/s", 1)),
        (f"sync httpx.post loop without Celery ({s['sync_loop_deliveries']:,} per round)",
         fmt.spread(data["sync_loop_without_celery"], "/s", 1)),
        (f"bare aiohttp, {s['in_flight']} in flight",
         fmt.spread(data["bare_aiohttp"], "/s")),
        (f"bare httpx, {s['in_flight']} / 10 in flight ({s['httpx_deliveries']:,} per round)",
         f"{fmt.spread(data['bare_httpx'], '/s')} / "
         f"{fmt.spread(data['bare_httpx_10_in_flight'], '/s')}"),
        ("dispatcher / sync Celery task", fmt.ratio(ratios["vs_sync"], 1)),
        ("dispatcher / sync loop without Celery", fmt.ratio(ratios["vs_sync_loop"], 1)),
        ("dispatcher / bare aiohttp", fmt.ratio(ratios["vs_bare"])),
        ("bare aiohttp / bare httpx (the choice of client)",
         fmt.ratio(ratios["aiohttp_vs_httpx"], 1)),
        (f"submit to webhook received at {s['latency_rate']:.0f} jobs/s",
         f"p50 {fmt.spread(lat['p50_ms'], ' ms', 2)}, p99 {fmt.spread(lat['p99_ms'], ' ms', 2)}"),
        ("of which terminal transition to received",
         f"p50 {fmt.spread(lat['webhook_stage_p50_ms'], ' ms', 2)}, "
         f"p99 {fmt.spread(lat['webhook_stage_p99_ms'], ' ms', 2)}"),
        *isolation_rows(data),
    ]


def isolation_rows(data: Results) -> list[tuple[str, str]]:
    """The noisy-neighbour scenario's rows (bench/webhook_isolation.py), when measured."""
    iso = data.get("isolation")
    if not iso:
        return []
    s = iso["settings"]
    return [
        (f"healthy receiver, job end to arrival ({s['healthy_jobs']} jobs at "
         f"{s['healthy_rate']:.0f}/s), nothing else hanging",
         f"p50 {fmt.spread(iso['alone_p50_ms'], ' ms', 2)}, "
         f"p99 {fmt.spread(iso['alone_p99_ms'], ' ms', 2)}"),
        (f"the same while {s['backlog']} deliveries hang at another destination",
         f"p50 {fmt.spread(iso['while_other_hangs_p50_ms'], ' ms', 2)}, "
         f"p99 {fmt.spread(iso['while_other_hangs_p99_ms'], ' ms', 2)}"),
        (f"requests open at the hanging destination (cap {s['per_destination']})",
         f"at most {iso['hanging_max_in_flight']}"),
    ]


def _listing(results: Results, w: Callable[[str], None]) -> None:
    data = results.get("listing")
    if not data:
        return
    s = data["settings"]
    w("## Listing")
    w("")
    w(f"`jobs(status: FAILED, first: 5)` over GraphQL, {s['requests']} sequential requests per "
      "size and round, one gateway process; each size is a tenant of its own in one Redis, "
      "its jobs made by the real submit script and "
      f"{s['failed']} of them ended FAILED. Largest over smallest, per round: "
      f"{fmt.ratio(data['largest_over_smallest'])}.")
    w("")
    w("| jobs of the tenant | latency per listing, median (min-max) |")
    w("|---|---|")
    for size, t in data["sizes"].items():
        w(f"| {int(size):,} ({s['failed']} FAILED) | p50 {fmt.spread(t['p50_ms'], ' ms', 2)}, "
          f"p99 {fmt.spread(t['p99_ms'], ' ms', 2)} |")
    w("")


def _webhooks(results: Results, w: Callable[[str], None]) -> None:
    hooks = results.get("webhooks", {})
    w("## Webhooks")
    w("")
    if hooks.get("status") != "ok":
        w(f"Webhook figures: {hooks.get('status', 'missing')}: "
          f"{hooks.get('reason', 'not measured in this run')}.")
        w("")
        return
    data = hooks["results"]
    s = data["settings"]
    w(f"From `bench/webhooks_bench.py`, {s['runs']} interleaved rounds against one bare "
      f"receiver on loopback: one dispatcher process draining {s['deliveries']:,} "
      "deliveries made by the real terminal transition; the sync baselines; bare clients "
      "with the same number in flight; then the latency through the real gateway, Celery "
      f"worker and dispatcher at {s['latency_rate']:.0f} jobs/s for "
      f"{s['latency_seconds']:g} s after a {s['warmup_seconds']:g} s warm-up. Ratios: the "
      "median of the per-round ratios (min-max).")
    w("")
    w("| figure | median (min-max) |")
    w("|---|---|")
    for name, value in webhook_rows(data):
        w(f"| {name} | {value} |")
    w("")


def _misses(results: Results, targets: list[Target], w: Callable[[str], None]) -> None:
    missed = [t for t in targets if t.held is False]
    if not missed:
        return
    w("## Missed targets: by how much, why, and what would close them")
    w("")
    for t in missed:
        note = MISS_NOTES.get(t.key)
        profile_name, why, fix = note(results) if note else ("", "", "")
        w(f"### {t.goal}: {fmt.gap(t)}")
        w("")
        w(f"Measured: {fmt.detail(t)}.")
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


def _profiles(results: Results, w: Callable[[str], None]) -> None:
    names = [*results.get("http", {}).get("profiles", {}),
             *results.get("e2e", {}).get("profiles", {})]
    shown = [(n, p) for n in names if (p := _profile(results, n)) is not None]
    if not shown:
        return
    w("## Profiles (py-spy, separate runs under the same load)")
    w("")
    w("`worker`: the 2-process worker, all its processes; `worker_main_c1`: the main "
      "process of the one-process worker only.")
    w("")
    for name, profile in shown:
        w(f"<details><summary>{name}</summary>")
        w("")
        w("```")
        w(profile.excerpt(20))
        w("```")
        w("</details>")
        w("")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.report RESULTS_DIR", file=sys.stderr)
        return 2
    out_dir = Path(argv[0])
    (out_dir / "summary.md").write_text(render(load(out_dir / "results.json")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
