"""The issue's targets, each a ratio (or a bound) computed from one run's results.

A target keeps numbers only: the measured value, the threshold and the figures its
detail is made of (`detail` is a format string over `figures`), so results.json holds
data and the summary formats it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench.stats import Trend, flat_threshold, paired, ratio


@dataclass(frozen=True, slots=True)
class Target:
    key: str
    goal: str  # what must hold, for a person
    value: float  # the measured ratio or quantity
    threshold: float
    higher_is_better: bool
    unit: str  # "x", "ms", "MiB", "bytes"
    detail: str = ""  # a format string over `figures`: where the value comes from
    figures: dict[str, float] = field(default_factory=dict)
    paired: tuple[float, float] | None = None  # min-max of per-round ratios
    unavailable: str = ""  # why it could not be measured in this run

    @property
    def held(self) -> bool | None:
        if self.unavailable or math.isnan(self.value):
            return None
        if self.higher_is_better:
            return self.value >= self.threshold
        return self.value <= self.threshold

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "goal": self.goal, "value": self.value,
                "threshold": self.threshold, "higher_is_better": self.higher_is_better,
                "unit": self.unit, "held": self.held, "detail": self.detail,
                "figures": self.figures, "paired_ratio_range": self.paired,
                "unavailable": self.unavailable}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        """A target as results.json keeps it (a missing number was written as null)."""
        def num(value: Any) -> float:
            return math.nan if value is None else float(value)

        pair = data.get("paired_ratio_range")
        return cls(data["key"], data["goal"], num(data["value"]), num(data["threshold"]),
                   bool(data["higher_is_better"]), data["unit"], data.get("detail", ""),
                   {k: num(v) for k, v in data.get("figures", {}).items()},
                   None if pair is None else (num(pair[0]), num(pair[1])),
                   data.get("unavailable", ""))


def _median(section: dict[str, Any], name: str, metric: str = "rps") -> float:
    scenario = section.get(name)
    if not scenario or scenario.get(metric, {}).get("median") is None:
        return math.nan
    return float(scenario[metric]["median"])


def _paired_target(key: str, goal: str, threshold: float, num_runs: list[float] | None,
                   den_runs: list[float] | None, detail: str, unavailable: str = "",
                   **figures: float) -> Target:
    """A ">= threshold x" target over interleaved rounds: the median of the per-round
    ratios is the value (the steadier figure on a busy machine)."""
    if unavailable or not num_runs or not den_runs:
        return Target(key, goal, math.nan, threshold, True, "x", "", {}, None,
                      unavailable or "not measured in this run")
    p = paired(num_runs, den_runs)
    value = float(p["median"])
    if math.isnan(value):
        return Target(key, goal, math.nan, threshold, True, "x", "", {}, None,
                      "no run of both measured")
    return Target(key, goal, value, threshold, True, "x", detail,
                  {**figures, "ratio_of_medians": float(p["of_medians"])},
                  (float(p["min"]), float(p["max"])))


def _http_target(http: dict[str, Any], key: str, goal: str, num: str, den: str,
                 threshold: float, unavailable: str = "") -> Target:
    runs = [list(http[name]["rps"]["runs"]) if name in http else None for name in (num, den)]
    return _paired_target(
        key, goal, threshold, runs[0], runs[1],
        "{ours:,.0f} vs {other:,.0f} req/s (medians; ratio of medians {ratio_of_medians:.2f}x)",
        unavailable, ours=_median(http, num), other=_median(http, den))


REST_VS_REFERENCE = 5.0
REST_VS_HELLO = 0.6  # issue 17, part 3 (0.4 before)
GRAPHQL_VS_REFERENCE = 5.0  # issue 17 (3 before)
POLL_VS_REFERENCE = 5.0  # issue 17, part 3 (3 before)
GRAPHQL_VS_REST = 0.8  # issue 17: submitSum against the REST submit, job(id) against the poll
SCALING_2P = 1.6  # issue 17, part 4: 2 gateway processes over 1 on 2 cores
WORKER_VS_BARE = 0.85
LATENCY_P50_MS = 3.0
REDIS_BYTES_PER_JOB = 2048
WEBHOOK_VS_SYNC = 30.0
WEBHOOK_VS_BARE = 0.6  # issue 14, part 8 (0.5 before)
WEBHOOK_P50_MS = 10.0  # issue 14, part 8 (15 ms before)
WEBHOOK_P99_MS = 30.0  # issue 14, part 8 (60 ms before)
LISTING_SIZES = (1_000, 10_000, 100_000)  # jobs of one tenant (bench/listing.py)
LISTING_FLAT_MAX = 1.25  # the largest size's listing cost over the smallest's
WEBHOOK_ISOLATION_P99_MS = 2000.0  # issue 14: a healthy receiver while another one hangs
PROGRESS_OVERHEAD = 1.05  # issue 15: a job reporting progress, against the same loop without
QUEUES_VS_BARE = 0.9  # issue 16: short jobs while a long job runs on the other queue


def evaluate(results: dict[str, Any]) -> list[Target]:
    http = results.get("http", {}).get("scenarios", {})
    graphql = results.get("http", {}).get("graphql", {})
    no_graphql = "" if graphql.get("available") else \
        f"not available in this build ({graphql.get('reason', 'no /graphql')})"
    targets = [
        _http_target(http, "rest_vs_reference",
                     f"REST submit >= {REST_VS_REFERENCE:g}x the reference",
                     "rest_submit_1p", "reference_submit_1p", REST_VS_REFERENCE),
        _http_target(http, "rest_vs_hello", f"REST submit >= {REST_VS_HELLO:g}x bare hello",
                     "rest_submit_1p", "hello_1p", REST_VS_HELLO),
        _http_target(http, "graphql_vs_reference",
                     f"GraphQL submitSum >= {GRAPHQL_VS_REFERENCE:g}x the reference",
                     "graphql_submit_1p", "reference_submit_1p", GRAPHQL_VS_REFERENCE,
                     no_graphql),
        _http_target(http, "poll_vs_reference",
                     f"REST poll >= {POLL_VS_REFERENCE:g}x the reference's poll",
                     "rest_poll_1p", "reference_poll_1p", POLL_VS_REFERENCE),
        _http_target(http, "graphql_vs_rest",
                     f"GraphQL submitSum >= {GRAPHQL_VS_REST:g}x the REST submit",
                     "graphql_submit_1p", "rest_submit_1p", GRAPHQL_VS_REST, no_graphql),
        _http_target(http, "graphql_job_vs_poll",
                     f"GraphQL job(id) >= {GRAPHQL_VS_REST:g}x the REST poll",
                     "graphql_job_1p", "rest_poll_1p", GRAPHQL_VS_REST, no_graphql),
        *(scaling_target(http, prefix, label, no_graphql if "graphql" in prefix else "")
          for prefix, label in (("rest_submit", "REST submit"),
                                ("graphql_submit", "GraphQL submitSum"))),
    ]
    e2e = results.get("e2e", {})
    drain = e2e.get("drain", {})

    def jobs_per_s(side: str) -> float:
        return _median(drain, side, "jobs_per_s")

    for c in (1, 2):
        ours, bare = jobs_per_s(f"ours_c{c}"), jobs_per_s(f"bare_c{c}")
        watched = jobs_per_s(f"ours_events_c{c}")
        figures = {"ours": ours, "bare": bare, "events": watched,
                   "events_ratio": ratio(watched, bare)}
        detail = ("{ours:,.0f} vs {bare:,.0f} jobs/s; with task events on (Flower watching) "
                  "{events:,.0f} jobs/s ({events_ratio:.2f}x)")
        prefetch = jobs_per_s(f"ours_prefetch4_c{c}")
        if not math.isnan(prefetch):
            figures |= {"prefetch4": prefetch, "prefetch4_ratio": ratio(prefetch, bare)}
            detail += ("; with WORKER_PREFETCH_MULTIPLIER=4 {prefetch4:,.0f} jobs/s "
                       "({prefetch4_ratio:.2f}x)")
        targets.append(Target(
            f"e2e_c{c}", f"jobs/s to SUCCEEDED >= {WORKER_VS_BARE:g}x bare Celery "
            f"({c} worker proc)", ratio(ours, bare), WORKER_VS_BARE, True, "x", detail,
            figures))
    observers = {side: e2e.get("latency", {}).get(side, {}).get("observers", {})
                 for side in ("ours", "bare")}
    p50 = {side: _median(obs, "poll", "p50_ms") for side, obs in observers.items()}
    targets.append(Target(
        "latency_p50", f"submit-to-SUCCEEDED p50 within {LATENCY_P50_MS:g} ms of bare Celery "
        "(polling)", p50["ours"] - p50["bare"], LATENCY_P50_MS, False, "ms",
        "{ours:.2f} vs {bare:.2f} ms p50", {"ours": p50["ours"], "bare": p50["bare"]}))
    trend = results.get("memory", {}).get("gateway_trend")
    if trend and trend.get("window_growth_bytes") is not None:
        t = Trend(trend["slope_bytes_per_unit"], trend["window_start"],
                  trend["window_growth_bytes"], trend["start_bytes"], trend["samples"])
        targets.append(Target(
            "gateway_rss_flat", "gateway RSS flat over the submits (last two thirds)",
            t.window_growth / 2**20, flat_threshold(t) / 2**20, False, "MiB",
            "fitted growth {growth_mib:+.2f} MiB over the last two thirds "
            "({slope:+,.2f} bytes per submit), level {level_mib:.1f} MiB",
            {"growth_mib": t.window_growth / 2**20, "slope": t.slope_per_unit,
             "level_mib": t.start_value / 2**20}))
    ours_bytes = _median(drain, "ours_c2", "redis_bytes_per_job")
    targets.append(Target(
        "redis_bytes", f"<= {REDIS_BYTES_PER_JOB:,} bytes of Redis per finished job record",
        ours_bytes, REDIS_BYTES_PER_JOB, False, "bytes",
        "INFO used_memory delta / jobs: {bytes:,.0f} bytes", {"bytes": ours_bytes}))
    return [*targets, *persisted_targets(results.get("http", {})),
            listing_target(results.get("listing")),
            *webhook_targets(results.get("webhooks", {})),
            progress_target(results.get("progress", {})),
            queues_target(results.get("queues", {}))]


def persisted_targets(http: dict[str, Any]) -> list[Target]:
    """Issue 17: GraphQL submitSum sent by its persisted-query hash, per process."""
    persisted = http.get("graphql_persisted", {})
    missing = "" if persisted.get("available") else "not measured in this run" if (
        not persisted) else f"not available in this build ({persisted.get('reason')})"
    scen = http.get("scenarios", {})
    return [_http_target(scen, f"persisted_vs_{key}", f"GraphQL submitSum by persisted hash "
                         f">= {threshold:g}x {what}", "graphql_persisted_submit_1p", den,
                         threshold, missing)
            for key, what, den, threshold in (
                ("rest", "REST submit", "rest_submit_1p", GRAPHQL_VS_REST),
                ("reference", "the reference's submit", "reference_submit_1p",
                 GRAPHQL_VS_REFERENCE))]


def scaling_target(http: dict[str, Any], prefix: str, label: str,
                   unavailable: str = "") -> Target:
    """2 gateway processes behind NGINX over 1 behind the same NGINX; below the target,
    the detail names what the 2-process runs ran out of, from the CPU they used
    (bench/cpu_share.py): the machine's cores all busy means CPU, whoever used it."""
    two, one = f"{prefix}_2p", f"{prefix}_nginx_1p"
    if one not in http:
        one = f"{prefix}_1p"
    target = _http_target(http, f"{prefix}_scaling", f"{label}: 2 gateway processes >= "
                          f"{SCALING_2P:g}x 1 (or the bench says what stops it)", two, one,
                          SCALING_2P, unavailable)
    shares = [r["cpu"] for r in http.get(two, {}).get("runs", []) if r.get("cpu")]
    if target.unavailable or not shares:
        return target

    def median(values: list[float]) -> float:
        return float(sorted(values)[len(values) // 2])

    cores = float(shares[0]["cores"])
    figures = {"cores": cores, "busy": median([c["busy"] for c in shares]),
               "rest": median([c["rest"] for c in shares]),
               **{role: median([c["roles"][role] for c in shares])
                  for role in shares[0]["roles"]}}
    detail = (target.detail + "; CPU during the 2-process runs, in cores: {busy:.2f} of "
              "{cores:.0f} busy (gateways {gateways:.2f}, Redis {redis:.2f}, NGINX "
              "{nginx:.2f}, wrk and the rest {rest:.2f})")
    if figures["busy"] >= CPU_FULL * cores:
        detail += ": every core full, CPU is the shared resource that stops the scaling"
    return Target(target.key, target.goal, target.value, target.threshold, True, "x",
                  detail, {**target.figures, **figures}, target.paired)


CPU_FULL = 0.9  # of the machine's cores busy: no CPU left for another process


def listing_target(listing: dict[str, Any] | None) -> Target:
    """Issue 15: a filtered listing costs the same whatever the history (bench/listing.py)."""
    small_jobs, large_jobs = LISTING_SIZES[0], LISTING_SIZES[-1]
    goal = (f"jobs(status: FAILED, first: 5) over {large_jobs:,} jobs at most "
            f"{LISTING_FLAT_MAX:g}x its cost over {small_jobs:,}")
    if not listing:
        return Target("listing_flat", goal, math.nan, LISTING_FLAT_MAX, False, "x",
                      unavailable="not measured in this run")
    sizes = listing["sizes"]
    small, large = (float(sizes[str(n)]["p50_ms"]["median"]) for n in (small_jobs, large_jobs))
    rounds = listing["largest_over_smallest"]
    return Target("listing_flat", goal, float(rounds["median"]), LISTING_FLAT_MAX, False, "x",
                  "{large:.2f} ms over {large_jobs:,.0f} jobs vs {small:.2f} ms over "
                  "{small_jobs:,.0f} (medians; per-round ratios)",
                  {"large": large, "small": small, "large_jobs": large_jobs,
                   "small_jobs": small_jobs},
                  (float(rounds["min"]), float(rounds["max"])))


def progress_target(progress: dict[str, Any]) -> Target:
    """What progress reports cost sum_to_n_job (bench/progress_bench.py): the median of the
    rounds' run-time ratios, with progress / without."""
    goal = (f"sum_to_n_job({progress.get('number', 50_000_000):,}) with progress <= "
            f"{PROGRESS_OVERHEAD:g}x the same loop without")
    p = progress.get("ratio")
    if not p or p.get("median") is None or math.isnan(float(p["median"])):
        return Target("progress_overhead", goal, math.nan, PROGRESS_OVERHEAD, False, "x",
                      unavailable="not measured in this run")
    figures = {"with": float(progress["with_progress_s"]["median"]),
               "without": float(progress["without_progress_s"]["median"]),
               "reports": float(progress["reports_written"]["median"]),
               "ratio_of_medians": float(p["of_medians"])}
    return Target("progress_overhead", goal, float(p["median"]), PROGRESS_OVERHEAD, False,
                  "x", "{with:.3f} s vs {without:.3f} s (medians; ratio of medians "
                  "{ratio_of_medians:.3f}x), {reports:.0f} reports written a run", figures,
                  (float(p["min"]), float(p["max"])))


def webhook_targets(hooks: dict[str, Any]) -> list[Target]:
    """The webhook feature's targets, from bench/webhooks_bench.py's results."""
    data = hooks.get("results") if hooks.get("status") == "ok" else None
    missing = "" if data else (
        f"not measured ({hooks.get('status', 'missing')}: {hooks.get('reason', '')})")

    def runs(name: str) -> list[float] | None:
        return list(data[name]["runs"]) if data else None

    def median(name: str, section: str = "") -> float:
        if not data:
            return math.nan
        value = (data[section] if section else data)[name]["median"]
        return math.nan if value is None else float(value)

    dispatcher, sync = median("dispatcher_per_process"), median("sync_celery_task_baseline")
    bare = median("bare_aiohttp")
    targets = [
        _paired_target("webhook_vs_sync", f"webhook dispatcher >= {WEBHOOK_VS_SYNC:g}x the "
                       "sync Celery-task baseline", WEBHOOK_VS_SYNC,
                       runs("dispatcher_per_process"), runs("sync_celery_task_baseline"),
                       "{ours:,.0f} vs {other:,.1f} deliveries/s (medians; ratio of medians "
                       "{ratio_of_medians:.1f}x)", missing, ours=dispatcher, other=sync),
        _paired_target("webhook_vs_bare", f"webhook dispatcher >= {WEBHOOK_VS_BARE:g}x a bare "
                       "aiohttp client", WEBHOOK_VS_BARE, runs("dispatcher_per_process"),
                       runs("bare_aiohttp"), "{ours:,.0f} vs {other:,.0f} deliveries/s "
                       "(medians; ratio of medians {ratio_of_medians:.2f}x)", missing,
                       ours=dispatcher, other=bare),
    ]
    for key, limit in (("p50_ms", WEBHOOK_P50_MS), ("p99_ms", WEBHOOK_P99_MS)):
        name = key.removesuffix("_ms")
        total, stage = median(key, "latency"), median(f"webhook_stage_{key}", "latency")
        targets.append(Target(
            f"webhook_{name}", f"submit-to-webhook {name} within {limit:g} ms at a fixed rate",
            total, limit, False, "ms",
            "{total:.2f} ms submit to received, of which terminal transition to received "
            "{stage:.2f} ms" if data else "",
            {"total": total, "stage": stage} if data else {}, None, missing))
    if data and "isolation" in data:  # runs from before the scenario existed lack it
        iso = data["isolation"]
        noisy, alone = (float(iso[f"{case}_p99_ms"]["median"])
                        for case in ("while_other_hangs", "alone"))
        targets.append(Target(
            "webhook_isolation_p99", "a healthy receiver's webhooks p99 within "
            f"{WEBHOOK_ISOLATION_P99_MS:g} ms of the job's end while another destination hangs",
            noisy, WEBHOOK_ISOLATION_P99_MS, False, "ms",
            "{noisy:.2f} ms while another hangs, {alone:.2f} ms with nothing hanging",
            {"noisy": noisy, "alone": alone}))
    return targets


def queues_target(queues: dict[str, Any]) -> Target:
    """Issue 16: short jobs/s of our worker (one pool process per queue) while a long job
    runs on the long queue, against bare Celery's (bench/queues_bench.py)."""
    goal = (f"short jobs/s >= {QUEUES_VS_BARE:g}x bare Celery while a long job runs on the "
            "other queue (1 pool process per queue)")
    if not queues:
        return _paired_target("queues_vs_bare", goal, QUEUES_VS_BARE, None, None, "",
                              "not measured in this run")
    ours, bare = queues["ours_jobs_per_s"], queues["bare_jobs_per_s"]
    return _paired_target(
        "queues_vs_bare", goal, QUEUES_VS_BARE, list(ours["runs"]), list(bare["runs"]),
        "{ours:,.0f} vs {other:,.0f} jobs/s (medians; ratio of medians "
        "{ratio_of_medians:.2f}x)", ours=float(ours["median"]), other=float(bare["median"]))
