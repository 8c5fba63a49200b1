"""The README's and docs/SCALING.md's performance tables, generated from a run's
results.json (`bench/latest/results.json` by default): `python -m bench.readme` rewrites
each block between its markers, `--check` only says whether they are current. A full
`make bench` runs it after refreshing bench/latest; `tests/unit/project/test_bench_latest.py` checks
that the blocks are what this module makes of bench/latest/results.json.

    <!-- bench:NAME (generated ...) -->
    ...
    <!-- /bench:NAME -->
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import fmt, report
from bench.config import http_runs
from bench.results_io import LATEST, ROOT, load
from bench.targets import Target

Results = dict[str, Any]
BEGIN = "<!-- bench:{name} (generated from bench/latest/results.json by `python -m " \
        "bench.readme`; edit bench/readme.py, not this block) -->"
END = "<!-- /bench:{name} -->"


def _yes(t: Target | None) -> str:
    return {True: "yes", False: "no", None: "n/a"}[t.held if t else None]


def _rps(scen: Results, name: str, p99: bool = False) -> str:
    s = scen.get(name)
    if not s:
        return fmt.NA
    text = fmt.spread(s["rps"], " req/s")
    return text + (f", p99 {fmt.figure(s['p99_ms']['median'])} ms" if p99 else "")


def _median(scen: Results, name: str, metric: str = "rps") -> str:
    s = scen.get(name)
    return fmt.figure(s[metric]["median"]) if s else fmt.NA


def _run_line(results: Results) -> str:
    meta = results["meta"]
    cfg = meta["config"]
    line = (f"From `make bench` on {meta['started']} (commit `{meta['commit']}`, "
            f"{meta['cpus']} CPUs, load average {fmt.load(meta['load_start'])} at the start "
            f"and {fmt.load(meta.get('load_end'))} at the end, {fmt.figure(meta['seconds'])} s; "
            f"median of {cfg['runs']} runs, {http_runs(cfg)} for HTTP throughput, "
            f"{cfg['latency_runs']} for latency, min-max in "
            "brackets; a ratio is the median of the per-round ratios of contenders measured "
            "side by side)")
    load_start = meta["load_start"][0]
    if load_start / meta["cpus"] > report.BUSY_LOAD:
        line += (f". The machine was busy at the start (load average {load_start:.2f} on "
                 f"{meta['cpus']} CPUs): absolute figures are low, the ratios still compare")
    return line + "."


def performance(results: Results) -> str:
    """The README's table of every target and the figures next to it."""
    cfg = results["meta"]["config"]
    http = results.get("http", {})
    scen = http.get("scenarios", {})
    ratios = http.get("ratios", {})
    drain = results.get("e2e", {}).get("drain", {})
    lat = results.get("e2e", {}).get("latency", {})
    mem = results.get("memory", {})
    t = fmt.targets(results)

    def jobs(side: str) -> str:
        return _median(drain, side, "jobs_per_s")

    def share(target: Target | None, name: str) -> str:
        """A figure of a target: how a worker variant compares with bare Celery."""
        value = target.figures.get(name) if target else None
        return fmt.NA if value is None else fmt.figure(value, 2) + "x"

    def p50(side: str, observer: str) -> str:
        o = lat.get(side, {}).get("observers", {}).get(observer)
        return fmt.figure(o["p50_ms"]["median"], 2) + " ms" if o else fmt.NA

    def prod(prefix: str) -> str:
        return "the open gateway's row: " + fmt.ratio(
            ratios.get(f"{prefix}_prod_1p/{prefix}_1p"))

    e2e1, e2e2 = t.get("e2e_c1"), t.get("e2e_c2")
    # The gateway's 2 processes run behind NGINX, as `make up` runs them (newer runs).
    two = " (behind NGINX)" if "rest_submit_nginx_1p" in scen else ""
    rows = [
        (f"REST submit, 1 process, {cfg['connections']} connections",
         _rps(scen, "rest_submit_1p", p99=True),
         f"reference {_median(scen, 'reference_submit_1p')} req/s: "
         f"{fmt.short(t.get('rest_vs_reference'))}; bare hello {_median(scen, 'hello_1p')} "
         f"req/s: {fmt.short(t.get('rest_vs_hello'))}",
         f"{fmt.need(t['rest_vs_reference'])}; {fmt.need(t['rest_vs_hello'])}",
         f"{_yes(t.get('rest_vs_reference'))}; {_yes(t.get('rest_vs_hello'))}"),
        (f"REST submit, 2 processes{two}", _rps(scen, "rest_submit_2p"),
         f"reference {_median(scen, 'reference_submit_2p')} req/s: "
         f"{fmt.ratio(ratios.get('rest_submit_2p/reference_submit_2p'))}", "", ""),
        ("REST submit, API key + rate limit, 1 process",
         _rps(scen, "rest_submit_prod_1p", p99=True), prod("rest_submit"), "", ""),
        ("REST poll of a finished job, 1 process", _rps(scen, "rest_poll_1p"),
         f"reference poll {_median(scen, 'reference_poll_1p')} req/s: "
         f"{fmt.short(t.get('poll_vs_reference'))}", fmt.need(t["poll_vs_reference"]),
         _yes(t.get("poll_vs_reference"))),
        ("REST poll, API key + rate limit, 1 process", _rps(scen, "rest_poll_prod_1p"),
         prod("rest_poll"), "", ""),
        (f"GraphQL `submitSum`, 1 / 2 processes{two}",
         f"{_median(scen, 'graphql_submit_1p')} / {_median(scen, 'graphql_submit_2p')} req/s",
         f"reference {_median(scen, 'reference_submit_1p')} / "
         f"{_median(scen, 'reference_submit_2p')} req/s: 1 process "
         f"{fmt.short(t.get('graphql_vs_reference'))}, 2 processes "
         f"{fmt.ratio(ratios.get('graphql_submit_2p/reference_submit_2p'))}",
         fmt.need(t["graphql_vs_reference"]),
         _yes(t.get("graphql_vs_reference"))),
        ("GraphQL `submitSum`, API key + rate limit, 1 process",
         _rps(scen, "graphql_submit_prod_1p"), prod("graphql_submit"), "", ""),
        ("GraphQL `submitSum` by persisted hash, 1 process",
         _rps(scen, "graphql_persisted_submit_1p", p99=True),
         f"REST submit: {fmt.short(t.get('persisted_vs_rest'))}; reference: "
         f"{fmt.short(t.get('persisted_vs_reference'))}; by text: "
         f"{fmt.ratio(ratios.get('graphql_persisted_submit_1p/graphql_submit_1p'))}",
         "; ".join(fmt.need(t[k]) for k in ("persisted_vs_rest", "persisted_vs_reference")
                   if k in t),  # runs from before issue 17 lack them
         f"{_yes(t.get('persisted_vs_rest'))}; {_yes(t.get('persisted_vs_reference'))}"),
        ("trivial jobs to SUCCEEDED, 1 / 2 worker processes",
         f"{jobs('ours_c1')} / {jobs('ours_c2')} jobs/s",
         f"bare Celery {jobs('bare_c1')} / {jobs('bare_c2')}: {fmt.short(e2e1)} / "
         f"{fmt.short(e2e2)}",
         fmt.need(e2e1) if e2e1 else "", f"{_yes(e2e1)} / {_yes(e2e2)}"),
        ("same, 1 process, `WORKER_PREFETCH_MULTIPLIER=4`", f"{jobs('ours_prefetch4_c1')} jobs/s",
         f"bare Celery {jobs('bare_c1')}: {share(e2e1, 'prefetch4_ratio')}", "", ""),
        ("same, task events on (as while Flower watches)",
         f"{jobs('ours_events_c1')} / {jobs('ours_events_c2')} jobs/s",
         f"{share(e2e1, 'events_ratio')} / {share(e2e2, 'events_ratio')}", "", ""),
    ]
    latency = t.get("latency_p50")
    if latency:
        poll = lat.get("ours", {}).get("observers", {}).get("poll", {}).get("p50_ms", {})
        rows += [
            (f"submit to SUCCEEDED visible at {cfg['rate']:.0f} jobs/s, polling",
             f"p50 {fmt.spread(poll, ' ms', 2)}",
             f"bare Celery {p50('bare', 'poll')} ({fmt.value(latency)} more)",
             fmt.need(latency), _yes(latency)),
            ("same, by the job's Redis event / a GraphQL subscription (its own runs)",
             f"p50 {p50('ours', 'event')} / {p50('ours', 'graphql_subscription')}",
             f"bare Celery's event {p50('bare', 'event')}", "", ""),
        ]
    watched = results.get("watching")
    if watched:
        ways = watched["ways"]
        n = watched["settings"]["jobs"]

        def both(metric: str, digits: int) -> str:
            return " / ".join(fmt.figure(ways[w][metric]["median"], digits)
                              for w in ("long_poll", "sse"))

        poll = ways["poll"]
        rows += [
            (f"job end to seen, {n:,} jobs watched at once: long poll `?wait=` / "
             "Server-Sent Events", f"p50 {both('p50_ms', 1)} ms, p99 {both('p99_ms', 1)} ms",
             f"polling every {fmt.figure(watched['settings']['poll_seconds'], 1)} s: p50 "
             f"{fmt.figure(poll['p50_ms']['median'], 1)} ms, p99 "
             f"{fmt.figure(poll['p99_ms']['median'], 1)} ms", "", ""),
            ("gateway CPU per watched job: long poll / Server-Sent Events",
             f"{both('cpu_ms_per_job', 2)} ms",
             f"polling: {fmt.figure(poll['cpu_ms_per_job']['median'], 2)} ms", "", ""),
        ]
    rss = t.get("gateway_rss_flat")
    if mem and rss:
        rows.append((f"gateway RSS over {mem['submits']:,} submits",
                     f"{mem['gateway_rss_start'] / 2**20:.1f} MiB → "
                     f"{mem['gateway_rss_end'] / 2**20:.1f} MiB, trend "
                     f"{fmt.figure(rss.value, 2)} MiB over the last two thirds", "",
                     fmt.need(rss), _yes(rss)))
    redis = t.get("redis_bytes")
    if redis:
        rows.append(("Redis per finished job record", fmt.value(redis),
                     "bare Celery's result "
                     + fmt.figure(drain.get("bare_c2", {}).get("redis_bytes_per_job", {})
                                  .get("median")) + " bytes", fmt.need(redis), _yes(redis)))
    flat, listing = t.get("listing_flat"), results.get("listing")
    if flat and listing and not flat.unavailable:
        sizes = listing["sizes"]
        rows.append((
            "`jobs(status: FAILED, first: 5)`, 1,000 / 100,000 jobs of the tenant",
            f"{fmt.figure(sizes['1000']['p50_ms']['median'], 2)} / "
            f"{fmt.figure(sizes['100000']['p50_ms']['median'], 2)} ms per listing",
            "the same listing over 1,000 jobs: " + fmt.short(flat), fmt.need(flat),
            _yes(flat)))
    progress = t.get("progress_overhead")
    if progress and not progress.unavailable:  # runs from before it existed lack it
        rows.append((f"`sum_to_n_job({results['progress']['number']:,})` with progress "
                     "reports, run time", f"{fmt.figure(progress.figures['with'], 3)} s",
                     f"the same loop without: {fmt.figure(progress.figures['without'], 3)} s, "
                     f"{fmt.short(progress)}", fmt.need(progress), _yes(progress)))
    queues = t.get("queues_vs_bare")
    if queues and not queues.unavailable:  # runs from before it existed lack it
        rows.append(("short jobs to SUCCEEDED while a long job runs on the long queue, 1 "
                     "process per queue", f"{fmt.figure(queues.figures['ours'])} jobs/s",
                     f"bare Celery {fmt.figure(queues.figures['other'])}: "
                     f"{fmt.short(queues)}", fmt.need(queues), _yes(queues)))
    hooks = [t[k] for k in ("webhook_vs_sync", "webhook_vs_bare", "webhook_p50",
                            "webhook_p99") if k in t]
    if len(hooks) == 4 and not hooks[0].unavailable:
        vs_sync, vs_bare, h50, h99 = hooks
        rows.append((
            "webhooks (details under Integrators: webhooks)",
            f"dispatcher {fmt.figure(vs_sync.figures['ours'])} deliveries/s; p50 "
            f"{fmt.figure(h50.value, 2)} ms, p99 {fmt.figure(h99.value, 2)} ms at "
            f"{results['webhooks']['results']['settings']['latency_rate']:.0f} jobs/s",
            f"the sync per-task baseline: {fmt.short(vs_sync)}; bare aiohttp: "
            f"{fmt.short(vs_bare)}",
            "; ".join(fmt.need(h) for h in (vs_sync, vs_bare, h50, h99)),
            "; ".join(_yes(h) for h in (vs_sync, vs_bare, h50, h99))))
    lines = [_run_line(results), "",
             "| figure | ours (median; min-max) | compared with | target | held |",
             "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def webhooks(results: Results) -> str:
    """The README's webhook table."""
    hooks = results.get("webhooks", {})
    if hooks.get("status") != "ok":
        return (f"No webhook figures in bench/latest: {hooks.get('status', 'missing')} "
                f"({hooks.get('reason', 'not measured')}).")
    t = fmt.targets(results)
    lines = [_run_line(results), "",
             "| figure | median (min-max) |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in report.webhook_rows(hooks["results"])]
    lines += ["", "| target | measured | held |", "|---|---|---|"]
    for key in ("webhook_vs_sync", "webhook_vs_bare", "webhook_p50", "webhook_p99",
                "webhook_isolation_p99"):
        if key not in t:  # a run from before that figure existed
            continue
        target = t[key]
        lines.append(f"| {target.goal} | {fmt.short(target)} | {_yes(target)} |")
    return "\n".join(lines)


def scaling(results: Results) -> str:
    """docs/SCALING.md's table: from one process to two, and Redis's cost per job."""
    scen = results.get("http", {}).get("scenarios", {})
    ratios = results.get("http", {}).get("ratios", {})
    e2e = results.get("e2e", {})
    drain = e2e.get("drain", {})
    lines = [_run_line(results), "",
             "| | 1 process | 2 processes | growth |", "|---|---|---|---|"]
    for prefix, label in (("hello", "bare FastAPI hello (the HTTP ceiling)"),
                          ("reference_submit", "reference producer (sync route + `.delay()`)"),
                          ("rest_submit", "REST submit `POST /producer/api/sum`"),
                          ("graphql_submit", "GraphQL `submitSum`")):
        base = report.growth_base(scen, prefix)
        p = ratios.get(f"{prefix}_2p/{base}")
        if base != f"{prefix}_1p":
            label += ", behind NGINX"
        if p:
            lines.append(f"| {label} | {_median(scen, base)} req/s | "
                         f"{_median(scen, f'{prefix}_2p')} req/s | "
                         f"x{fmt.figure(p['of_medians'], 2)} |")
    for side, label in (("ours", "worker, trivial jobs, prefetch 1 (task events off)"),
                        ("ours_events", "worker, task events on (while Flower watches)"),
                        ("bare", "bare Celery worker")):
        growth = e2e.get("scaling", {}).get(side)
        if growth is not None:
            lines.append(f"| {label} | {_median(drain, f'{side}_c1', 'jobs_per_s')} jobs/s | "
                         f"{_median(drain, f'{side}_c2', 'jobs_per_s')} jobs/s | "
                         f"x{fmt.figure(growth, 2)} |")
    ours = drain.get("ours_c2", {})
    if ours:
        cost = {side: drain.get(f"{side}_c2", {}) for side in ("ours", "ours_events", "bare")}
        index = ours["runs"][-1].get("index_bytes_per_entry")
        lines += ["", (
            "Redis per trivial job, submit to result (two worker processes): CPU "
            f"{fmt.figure(cost['ours']['redis_cpu_us_per_job']['median'])} µs with task "
            f"events off, {fmt.figure(cost['ours_events']['redis_cpu_us_per_job']['median'])}"
            f" µs with them on, bare Celery "
            f"{fmt.figure(cost['bare']['redis_cpu_us_per_job']['median'])} µs: one Redis core "
            f"serves about {fmt.figure(cost['ours']['jobs_per_redis_cpu_second']['median'])} "
            "such jobs/s (task events off). Memory per finished job record: "
            f"{fmt.figure(ours['redis_bytes_per_job']['median'])} bytes by `INFO memory` "
            f"(`MEMORY USAGE` of the hash {fmt.figure(ours['record_memory_usage']['median'])} "
            f"bytes, plus about {fmt.figure(index)} per entry of the job index).")]
    return "\n".join(lines)


BLOCKS: dict[str, dict[str, Callable[[Results], str]]] = {
    "README.md": {"performance": performance, "webhooks": webhooks},
    "docs/SCALING.md": {"scaling": scaling},
}


def block_pattern(name: str) -> re.Pattern[str]:
    return re.compile(re.escape(BEGIN.format(name=name)) + r"\n(.*?)\n?"
                      + re.escape(END.format(name=name)), re.S)


def current(text: str, name: str) -> str | None:
    """The content of block `name` in `text`; None without its markers."""
    match = block_pattern(name).search(text)
    return None if match is None else match.group(1)


def rewrite(text: str, name: str, content: str) -> str:
    if current(text, name) is None:
        raise ValueError(f"no block {name!r}: add its markers, {BEGIN.format(name=name)!r} "
                         f"and {END.format(name=name)!r}")
    return block_pattern(name).sub(
        lambda _: f"{BEGIN.format(name=name)}\n{content}\n{END.format(name=name)}", text)


def generated(results: Results) -> dict[str, dict[str, str]]:
    """Every block's content, by file (relative to the repository) and block name."""
    return {path: {name: make(results) for name, make in blocks.items()}
            for path, blocks in BLOCKS.items()}


def stale(results: Results, root: Path = ROOT) -> list[str]:
    """The blocks whose text differs from what `results` makes."""
    out = []
    for path, blocks in generated(results).items():
        text = (root / path).read_text()
        out += [f"{path}: {name}" for name, content in blocks.items()
                if current(text, name) != content]
    return out


def update(results: Results, root: Path = ROOT) -> None:
    for path, blocks in generated(results).items():
        file = root / path
        text = file.read_text()
        for name, content in blocks.items():
            text = rewrite(text, name, content)
        file.write_text(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=LATEST / "results.json")
    parser.add_argument("--check", action="store_true", help="only report stale blocks")
    args = parser.parse_args(argv)
    results = load(args.results)
    if args.check:
        problems = stale(results)
        for problem in problems:
            print(f"stale: {problem} (run python -m bench.readme)", file=sys.stderr)
        return 1 if problems else 0
    update(results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
