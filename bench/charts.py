"""PNG charts of one run, drawn to be read at a glance from its results.json (a number
that could not be measured is null there)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from bench.report import OBSERVER_NAMES

OURS = "#1f77b4"
REFERENCE = "#d62728"
CEILING = "#7f7f7f"
BARE = "#ff7f0e"
PROD = "#2ca02c"  # ours with API keys and a rate limit
TUNED = "#9467bd"  # our worker with a setting changed from its default

# Rows of the throughput chart: (scenario prefix, label, colour).
THROUGHPUT_ROWS = [
    ("hello", "bare FastAPI hello\n(the HTTP ceiling)", CEILING),
    ("reference_submit", "reference submit\n(sync route + .delay())", REFERENCE),
    ("rest_submit", "REST submit\nPOST /producer/api/sum", OURS),
    ("rest_submit_prod", "REST submit,\nAPI key + rate limit", PROD),
    ("graphql_submit", "GraphQL submitSum", OURS),
    ("graphql_submit_prod", "GraphQL submitSum,\nAPI key + rate limit", PROD),
    ("reference_poll", "reference poll\n(AsyncResult, finished job)", REFERENCE),
    ("rest_poll", "REST poll\nGET /producer/api/sum/{id}", OURS),
    ("rest_poll_prod", "REST poll,\nAPI key + rate limit", PROD),
]


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _label_bar(ax: Axes, x: float, y: float, text: str) -> None:
    ax.text(x, y, f" {text}", va="center", ha="left", fontsize=8)


def throughput(http: dict[str, Any], runs: int, connections: int, path: Path) -> None:
    scenarios = http.get("scenarios", {})
    graphql = http.get("graphql", {})
    fig, ax = plt.subplots(figsize=(10, 6.5))
    y = 0.0
    ticks, labels = [], []
    top = max((_num(s["rps"]["max"]) for s in scenarios.values()), default=1.0)
    for prefix, label, colour in reversed(THROUGHPUT_ROWS):
        row = [(n, scenarios.get(f"{prefix}_{n}p")) for n in (2, 1)]
        present = [(n, s) for n, s in row if s and s["rps"]["median"] is not None]
        if not present and prefix == "graphql_submit":
            ax.text(top * 0.02, y, "not available in this build"
                    + (f": {graphql.get('reason', '')[:60]}" if graphql else ""),
                    va="center", fontsize=8, style="italic", color="#555")
            ticks.append(y)
            labels.append(label)
            y += 1.3
            continue
        centre = []
        for n, s in present:
            med, low, high = s["rps"]["median"], s["rps"]["min"], s["rps"]["max"]
            ax.barh(y, med, height=0.38, color=colour, alpha=1.0 if n == 1 else 0.55,
                    xerr=[[med - low], [high - med]], capsize=3, ecolor="#333")
            _label_bar(ax, high, y, f"{med:,.0f}/s  ({n} proc)")
            centre.append(y)
            y += 0.42
        ticks.append(sum(centre) / len(centre))
        labels.append(label)
        y += 0.6
    ax.set_yticks(ticks, labels, fontsize=9)
    ax.set_xlabel("requests per second (median; whiskers: min-max)")
    ax.set_xlim(0, top * 1.3)
    ax.set_title(f"HTTP throughput, wrk at {connections} connections, {runs} runs each "
                 "(dark: 1 uvicorn process, light: 2)", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _nines(p: float) -> float:
    return -math.log10(1 - min(p, 99.999) / 100)


def latency_percentiles(http: dict[str, Any], connections: int, path: Path) -> None:
    """Latency by percentile (wrk, the median-throughput run of each 1-process scenario)."""
    scenarios = http.get("scenarios", {})
    styles = {"hello": (CEILING, "-"), "reference_submit": (REFERENCE, "-"),
              "rest_submit": (OURS, "-"), "graphql_submit": (OURS, "--"),
              "reference_poll": (REFERENCE, ":"), "rest_poll": (OURS, ":"),
              "rest_submit_prod": (PROD, "-"), "graphql_submit_prod": (PROD, "--"),
              "rest_poll_prod": (PROD, ":")}
    fig, ax = plt.subplots(figsize=(10, 5.5))
    for prefix, (colour, style) in styles.items():
        s = scenarios.get(f"{prefix}_1p")
        if not s:
            continue
        runs = sorted(s["runs"], key=lambda r: r["rps"])
        run = runs[len(runs) // 2]
        points = sorted((float(p), ms) for p, ms in run["latency_ms"].items()
                        if float(p) < 100)
        ax.plot([_nines(p) for p, _ in points], [ms for _, ms in points], style,
                color=colour, marker="o", markersize=3, label=s["label"])
    marks = [50, 90, 99, 99.9, 99.99]
    ax.set_xticks([_nines(p) for p in marks], [f"p{p:g}" for p in marks])
    ax.set_yscale("log")
    ax.set_ylabel("latency, ms (log scale)")
    ax.set_xlabel("percentile")
    ax.set_title(f"Request latency by percentile at {connections} connections (1 process; "
                 "lower is better)", fontsize=11)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def e2e(e2e_results: dict[str, Any], rate: float, path: Path) -> None:
    drain = e2e_results.get("drain", {})
    latency = e2e_results.get("latency", {})
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5),
                                      gridspec_kw={"width_ratios": [1, 1.4]})
    sides = (("ours", OURS, 1.0, "gateway worker (prefetch 1)"),
             ("ours_events", OURS, 0.5, "same, task events on (Flower)"),
             ("ours_prefetch4", TUNED, 0.8, "same, WORKER_PREFETCH_MULTIPLIER=4"),
             ("bare", BARE, 1.0, "bare Celery"))
    for i, c in enumerate((1, 2)):
        for j, (side, colour, alpha, name) in enumerate(sides):
            s = drain.get(f"{side}_c{c}")
            if not s or s["jobs_per_s"]["median"] is None:
                continue
            med, low, high = (_num(s["jobs_per_s"][k]) for k in ("median", "min", "max"))
            x = i * 5 + j
            left.bar(x, med, color=colour, alpha=alpha, yerr=[[med - low], [high - med]],
                     capsize=4, label=name if i == 0 else None)
            left.text(x, high, f"{med:,.0f}", ha="center", va="bottom", fontsize=9)
    left.set_xticks([1.5, 6.5], ["1 worker process", "2 worker processes"])
    left.set_ylabel("jobs/s to SUCCEEDED (median; whiskers: min-max)")
    left.set_title("Worker throughput, trivial job", fontsize=11)
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    left.grid(axis="y", alpha=0.3)

    rows: list[tuple[str, list[float], str]] = []
    names = OBSERVER_NAMES
    for side, colour, who in (("ours", OURS, "gateway"), ("bare", BARE, "bare Celery")):
        observers = latency.get(side, {}).get("observers", {})
        for obs in sorted(observers, key=list(names).index):
            data = observers[obs]
            if data["all_ms"]:
                rows.append((f"{who}: {names.get(obs, obs)}", data["all_ms"], colour))
    if rows:
        box = right.boxplot([r[1] for r in rows], vert=False, whis=(1, 99),
                            showfliers=False, patch_artist=True,
                            medianprops={"color": "black"})
        for patch, row in zip(box["boxes"], rows, strict=True):
            patch.set_facecolor(row[2])
            patch.set_alpha(0.6)
        right.set_yticks(range(1, len(rows) + 1), [r[0] for r in rows], fontsize=9)
        for k, row in enumerate(rows, start=1):
            ordered = sorted(row[1])
            p50 = ordered[len(ordered) // 2]
            right.text(p50, k + 0.3, f"p50 {p50:.1f} ms", fontsize=8, ha="center")
        right.set_xscale("log")
    right.set_xlabel("submit → SUCCEEDED visible, ms (log; box p25-p75, whiskers p1-p99)")
    right.set_title(f"Latency at a fixed {rate:.0f} jobs/s, 2 worker processes", fontsize=11)
    right.grid(axis="x", alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def memory(mem: dict[str, Any], path: Path) -> None:
    samples = mem.get("samples", [])
    if not samples:
        return
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7))
    for ax, x_key, y_key, trend_key, title, xlabel, unit in (
        (top, "submitted", "gateway_rss", "gateway_trend", "Gateway RSS (1 process)",
         "jobs submitted", "submit"),
        (bottom, "consumed", "worker_rss", "worker_trend",
         "Worker RSS (main + 2 pool processes)", "jobs taken by the worker", "job"),
    ):
        xs = [s[x_key] for s in samples]
        ys = [s[y_key] / 2**20 for s in samples]
        ax.plot(xs, ys, ".", markersize=3, color=OURS, label="sampled RSS")
        trend = mem.get(trend_key, {})
        slope = _num(trend.get("slope_bytes_per_unit"))
        if not math.isnan(slope) and xs:
            x0, x1 = trend["window_start"], xs[-1]
            y0 = trend["start_bytes"] / 2**20
            y1 = y0 + slope * (x1 - x0) / 2**20
            ax.plot([x0, x1], [y0, y1], "-", color=REFERENCE, linewidth=2,
                    label=f"trend over the last 2/3: {slope:+,.1f} bytes per {unit}")
        ax.set_title(title, fontsize=11)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("RSS, MiB")
        low, high = min(ys), max(ys)
        ax.set_ylim(low - max(5.0, 0.1 * low), high + max(5.0, 0.1 * high))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
