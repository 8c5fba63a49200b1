"""How figures are written in the summary and in the README's generated tables: one
place, so that both say the same thing the same way. Every function takes data as
results.json holds it (a figure that could not be measured is null there) and writes
"n/a" for a missing one."""

from __future__ import annotations

import math
from typing import Any

from bench.targets import Target

NA = "n/a"


def num(value: Any) -> float:
    return math.nan if value is None else float(value)


def figure(value: Any, digits: int = 0, unit: str = "") -> str:
    """`2,409`, `7.49 ms`; n/a for a missing figure."""
    v = num(value)
    return NA if math.isnan(v) else f"{v:,.{digits}f}{unit}"


def spread(s: dict[str, Any] | None, unit: str = "", digits: int = 0) -> str:
    """A median with the min-max of its runs: `2,409 req/s (2,312-2,845)`."""
    if not s or math.isnan(num(s.get("median"))):
        return NA
    med, low, high = (f"{num(s[k]):,.{digits}f}" for k in ("median", "min", "max"))
    return f"{med}{unit} ({low}-{high})"


def ratio(p: dict[str, Any] | None, digits: int = 2) -> str:
    """A paired comparison (bench.stats.paired): the median of the per-round ratios with
    their min-max, `0.93x (0.90-0.97x)`."""
    if not p or math.isnan(num(p.get("median"))):
        return NA
    return (f"{num(p['median']):.{digits}f}x ({num(p['min']):.{digits}f}-"
            f"{num(p['max']):.{digits}f}x)")


def load(values: list[float] | None) -> str:
    return "/".join(f"{v:.2f}" for v in values or [])


# --- targets ---------------------------------------------------------------------------

def held(t: Target) -> str:
    return {True: "✅ held", False: "❌ missed", None: "— n/a"}[t.held]


def value(t: Target) -> str:
    if t.unavailable:
        return t.unavailable
    if math.isnan(t.value):
        return NA
    if t.unit == "x":
        text = f"{t.value:.2f}x"
        if t.paired:
            text += f" (median of the rounds' ratios; {t.paired[0]:.2f}-{t.paired[1]:.2f}x)"
        return text
    if t.unit == "bytes":
        return f"{t.value:,.0f} bytes"
    return f"{t.value:,.2f} {t.unit}"


def short(t: Target | None) -> str:
    """A target's value without words: `0.52x (0.48-0.57x)`, `7.49 ms`."""
    if t is None or t.unavailable or math.isnan(t.value):
        return NA if t is None or not t.unavailable else t.unavailable
    if t.unit == "x" and t.paired:
        return f"{t.value:.2f}x ({t.paired[0]:.2f}-{t.paired[1]:.2f}x)"
    return value(t)


def need(t: Target) -> str:
    op = ">=" if t.higher_is_better else "<="
    if t.unit == "x":
        return f"{op} {t.threshold:g}x"
    if t.unit == "bytes":
        return f"{op} {t.threshold:,.0f} bytes"
    return f"{op} {t.threshold:,.1f} {t.unit}"


def detail(t: Target) -> str:
    """The figures a target's value comes from, in words."""
    if not t.detail or any(math.isnan(v) for v in t.figures.values()):
        return "" if not t.figures else \
            ", ".join(f"{k} {figure(v, 2)}" for k, v in t.figures.items())
    return t.detail.format(**t.figures)


def gap(t: Target) -> str:
    """By how much a missed target was missed."""
    if t.held is not False:
        return ""
    if t.unit == "x":
        return f"{t.value:.2f}x of {t.threshold:g}x needed"
    return f"{t.value:,.2f} {t.unit} against {t.threshold:,.1f} {t.unit}"


def targets(results: dict[str, Any]) -> dict[str, Target]:
    return {d["key"]: Target.from_dict(d) for d in results.get("targets", [])}
