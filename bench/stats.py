"""Pure helpers of the benchmark: percentiles, run summaries, ratios and trends.

No I/O here, so `tests/unit/project/test_bench_helpers.py` checks them without starting anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) with linear interpolation between closest ranks
    (numpy's default method). NaN for no values."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Spread:
    """Median and min-max of repeated runs of one measurement."""

    median: float
    low: float
    high: float
    runs: tuple[float, ...]

    def as_dict(self) -> dict[str, object]:
        return {"median": self.median, "min": self.low, "max": self.high,
                "runs": list(self.runs)}


def spread(runs: Sequence[float]) -> Spread:
    finite = [r for r in runs if not math.isnan(r)]
    if not finite:
        return Spread(math.nan, math.nan, math.nan, tuple(runs))
    return Spread(percentile(finite, 50), min(finite), max(finite), tuple(runs))


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator; NaN when either is missing or the denominator is 0."""
    if math.isnan(numerator) or math.isnan(denominator) or denominator == 0:
        return math.nan
    return numerator / denominator


def paired(numerators: Sequence[float], denominators: Sequence[float]) -> dict[str, Any]:
    """How two contenders compare over interleaved rounds: the spread of the per-round
    ratios (the two runs of a round share that moment's load, so their median is the
    steadier figure on a busy machine) and the ratio of the two medians."""
    rounds = spread([ratio(a, b) for a, b in zip(numerators, denominators, strict=False)])
    return {**rounds.as_dict(),
            "of_medians": ratio(spread(numerators).median, spread(denominators).median)}


def linear_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys over xs; NaN with fewer than 2 distinct xs."""
    if len(xs) != len(ys):
        raise ValueError("xs and ys differ in length")
    n = len(xs)
    if n < 2:
        return math.nan
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    var = sum((x - mean_x) ** 2 for x in xs)
    if var == 0:
        return math.nan
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var


@dataclass(frozen=True, slots=True)
class Trend:
    """How a sampled quantity (RSS) moves over the last part of a run."""

    slope_per_unit: float  # e.g. bytes per submit
    window_start: float  # first x of the fitted window
    window_growth: float  # slope x width of the window (bytes over that window)
    start_value: float  # fitted value at the window start
    samples: int

    @property
    def relative_growth(self) -> float:
        return ratio(self.window_growth, self.start_value)


def tail_trend(xs: Sequence[float], ys: Sequence[float], fraction: float = 2 / 3) -> Trend:
    """The least-squares trend of ys over the last `fraction` of the x range (the first
    third is warm-up: imports, pools and caches filling)."""
    if not xs:
        return Trend(math.nan, math.nan, math.nan, math.nan, 0)
    cut = xs[-1] - (xs[-1] - xs[0]) * fraction
    window = [(x, y) for x, y in zip(xs, ys, strict=True) if x >= cut]
    wx = [x for x, _ in window]
    wy = [y for _, y in window]
    slope = linear_slope(wx, wy)
    if math.isnan(slope):
        return Trend(math.nan, cut, math.nan, math.nan, len(window))
    mean_x, mean_y = sum(wx) / len(wx), sum(wy) / len(wy)
    start = mean_y + slope * (wx[0] - mean_x)
    return Trend(slope, wx[0], slope * (wx[-1] - wx[0]), start, len(window))


def flat_threshold(trend: Trend, max_relative: float = 0.01,
                   floor_bytes: float = 2**20) -> float:
    """The most growth over the window that still counts as flat (noise): 1% of the
    level or 1 MiB, whichever is larger. A leak of 100 bytes per request shows as about
    6 MiB over the last 67,000 of 100,000 submits."""
    return max(floor_bytes, max_relative * trend.start_value)


def is_flat(trend: Trend) -> bool:
    if math.isnan(trend.window_growth):
        return False
    return trend.window_growth <= flat_threshold(trend)
