"""The issue's targets, each a ratio (or a bound) computed from one run's results."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bench.stats import Spread, Trend, flat_threshold, ratio, spread


@dataclass(frozen=True, slots=True)
class Target:
    key: str
    goal: str  # what must hold, for a person
    value: float  # the measured ratio or quantity
    threshold: float
    higher_is_better: bool
    unit: str  # "x", "ms", "bytes", ...
    detail: str  # the figures it comes from
    paired: tuple[float, float] | None = None  # min-max of per-round ratios
    unavailable: str = ""  # why it could not be measured in this build

    @property
    def held(self) -> bool | None:
        if self.unavailable or math.isnan(self.value):
            return None
        if self.higher_is_better:
            return self.value >= self.threshold
        return self.value <= self.threshold

    @property
    def gap(self) -> str:
        """By how much a missed target was missed."""
        if self.held is not False:
            return ""
        if self.unit == "x":
            return f"{self.value:.2f}x of {self.threshold:g}x needed " \
                   f"({100 * (self.threshold / self.value - 1):.0f}% short)"
        return f"{self.value:,.1f} {self.unit} against {self.threshold:,.1f} {self.unit}"

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "goal": self.goal, "value": self.value,
                "threshold": self.threshold, "unit": self.unit, "held": self.held,
                "detail": self.detail, "gap": self.gap, "paired_ratio_range": self.paired,
                "unavailable": self.unavailable}


def _median(section: dict[str, Any], name: str, metric: str = "rps") -> float:
    scenario = section.get(name)
    return float(scenario[metric]["median"]) if scenario else math.nan


def _paired(section: dict[str, Any], num: str, den: str) -> Spread | None:
    """The per-round ratios: rounds interleave the contenders, so the two runs of a round
    share that moment's load, and the median of the round ratios is the steadier figure
    on a busy machine."""
    if num not in section or den not in section:
        return None
    ratios = [ratio(a, b) for a, b in zip(section[num]["rps"]["runs"],
                                          section[den]["rps"]["runs"], strict=False)]
    s = spread(ratios)
    return None if math.isnan(s.median) else s


def _throughput_target(http: dict[str, Any], key: str, goal: str, num: str, den: str,
                       threshold: float, unavailable: str = "") -> Target:
    a, b = _median(http, num), _median(http, den)
    paired = _paired(http, num, den)
    detail = "" if unavailable else \
        f"{a:,.0f} vs {b:,.0f} req/s (medians; ratio of medians {ratio(a, b):.2f}x)"
    value = paired.median if paired else ratio(a, b)
    return Target(key, goal, value, threshold, True, "x", detail,
                  (paired.low, paired.high) if paired else None, unavailable)


def evaluate(results: dict[str, Any]) -> list[Target]:
    http = results.get("http", {}).get("scenarios", {})
    graphql = results.get("http", {}).get("graphql", {})
    no_graphql = "" if graphql.get("available") else \
        f"not available in this build ({graphql.get('reason', 'no /graphql')})"
    targets = [
        _throughput_target(http, "rest_vs_reference", "REST submit >= 5x the reference",
                           "rest_submit_1p", "reference_submit_1p", 5),
        _throughput_target(http, "rest_vs_hello", "REST submit >= 40% of bare hello",
                           "rest_submit_1p", "hello_1p", 0.4),
        _throughput_target(http, "graphql_vs_reference",
                           "GraphQL submitSum >= 3x the reference", "graphql_submit_1p",
                           "reference_submit_1p", 3, no_graphql),
        _throughput_target(http, "poll_vs_reference", "REST poll >= 3x the reference's poll",
                           "rest_poll_1p", "reference_poll_1p", 3),
    ]
    drain = results.get("e2e", {}).get("drain", {})
    for c in (1, 2):
        ours = drain.get(f"ours_c{c}", {}).get("jobs_per_s", {}).get("median", math.nan)
        bare = drain.get(f"bare_c{c}", {}).get("jobs_per_s", {}).get("median", math.nan)
        watched = drain.get(f"ours_events_c{c}", {}).get("jobs_per_s", {}).get(
            "median", math.nan)
        targets.append(Target(
            f"e2e_c{c}", f"jobs/s to SUCCEEDED >= 85% of bare Celery ({c} worker proc)",
            ratio(ours, bare), 0.85, True, "x",
            f"{ours:,.0f} vs {bare:,.0f} jobs/s; with task events on (Flower watching) "
            f"{watched:,.0f} jobs/s ({ratio(watched, bare):.2f}x)"))
    latency = results.get("e2e", {}).get("latency", {})
    ours_p50 = latency.get("ours", {}).get("observers", {}).get("poll", {}).get(
        "p50_ms", {}).get("median", math.nan)
    bare_p50 = latency.get("bare", {}).get("observers", {}).get("poll", {}).get(
        "p50_ms", {}).get("median", math.nan)
    targets.append(Target(
        "latency_p50", "submit-to-SUCCEEDED p50 within 3 ms of bare Celery (polling)",
        ours_p50 - bare_p50, 3.0, False, "ms",
        f"{ours_p50:.2f} vs {bare_p50:.2f} ms p50"))
    memory = results.get("memory", {})
    trend = memory.get("gateway_trend")
    if trend:
        t = Trend(trend["slope_bytes_per_1000"] / 1000, trend["window_start"],
                  trend["window_growth_bytes"], trend["start_bytes"], trend["samples"])
        targets.append(Target(
            "gateway_rss_flat", "gateway RSS flat over the submits (last 2/3)",
            t.window_growth / 2**20, flat_threshold(t) / 2**20, False, "MiB",
            f"fitted growth {t.window_growth / 2**20:+.2f} MiB over the last 2/3 "
            f"({trend['slope_bytes_per_1000']:+,.0f} bytes per 1,000 submits), "
            f"level {t.start_value / 2**20:.1f} MiB"))
    ours_bytes = drain.get("ours_c2", {}).get("redis_bytes_per_job", {}).get(
        "median", math.nan)
    targets.append(Target("redis_bytes", "<= 2 KiB of Redis per finished job record",
                          ours_bytes, 2048, False, "bytes",
                          f"INFO used_memory delta / jobs: {ours_bytes:,.0f} bytes"))
    return targets
