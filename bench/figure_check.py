"""Is every figure of a text found in a run's results.json?

A figure is a number as the summary and the README write it (`2,409`, `0.52x`, `7.49`,
`18.5%`, `81.6 MiB`). It is found when some number of the results, rounded to the
figure's decimals, equals it: as is, or in MiB for a figure written in MiB (RSS is kept
in bytes); a percentage is looked for among the profiles' shares only, and those only
match a percentage. Numbers inside the results' strings count too (the date, the commit,
the Python version). Small numbers with few decimals are found by chance more easily
than large ones: the check is sharpest where typed-in figures hurt most.

The raw series (every job's latency, the RSS samples, wrk's latency percentiles of each
run) are left out of the search: thousands of values spread over a range would match
almost any number there, and no text prints them.

`python -m bench.figure_check RESULTS_DIR` checks a run's summary.md, and the README
tables its results.json makes; `make bench` checks every run so."""

from __future__ import annotations

import bisect
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.results_io import load

# A number not glued to a word (`p99`, `c2`, a commit's `230f5a5`), with the `x` of a
# ratio before (`x1.66`) or after (`0.52x`) it allowed.
NUMBER = re.compile(r"(?<![\w.])x?(\d+(?:,\d{3})*(?:\.\d+)?)x?(?!\w)")
RAW_SERIES = {"all_ms", "samples", "latency_ms"}
PERCENT_ONLY = {"own", "inclusive", "focus"}  # profile shares, printed with a %
MIB = 2**20


@dataclass
class Numbers:
    """The numbers of one results.json, sorted for range lookups."""

    general: list[float] = field(default_factory=list)
    percent: list[float] = field(default_factory=list)

    def contains(self, low: float, high: float, percent: bool = False) -> bool:
        pool = self.percent if percent else self.general
        i = bisect.bisect_left(pool, low)
        return i < len(pool) and pool[i] <= high


def numbers_in_text(text: str) -> Iterator[re.Match[str]]:
    return NUMBER.finditer(text)


def _value(match: re.Match[str]) -> tuple[float, int]:
    digits = match.group(1).replace(",", "")
    decimals = len(digits.partition(".")[2])
    return float(digits), decimals


def collect(results: Any) -> Numbers:
    out = Numbers()

    def walk(node: Any, percent: bool) -> None:
        if isinstance(node, bool) or node is None:
            return
        if isinstance(node, int | float):
            (out.percent if percent else out.general).append(abs(float(node)))
        elif isinstance(node, str):
            out.general.extend(_value(m)[0] for m in numbers_in_text(node))
        elif isinstance(node, dict):
            for key, value in node.items():
                if key not in RAW_SERIES or isinstance(value, int | float):
                    walk(value, percent or key in PERCENT_ONLY)
        elif isinstance(node, list):
            for value in node:
                walk(value, percent)

    walk(results, False)
    out.general.sort()
    out.percent.sort()
    return out


def unbacked(text: str, results: dict[str, Any]) -> list[str]:
    """The figures of `text` that no number of `results` gives, each with its context."""
    numbers = collect(results)
    missing = []
    for match in numbers_in_text(text):
        value, decimals = _value(match)
        half = 0.5 * 10**-decimals + 1e-9
        after = text[match.end():match.end() + 4]
        found = numbers.contains(value - half, value + half, percent=after.startswith("%"))
        if not found and after == " MiB":
            found = numbers.contains((value - half) * MIB, (value + half) * MIB)
        if not found:
            start = max(0, match.start() - 40)
            context = text[start:match.end() + 20].replace("\n", " ")
            missing.append(f"{match.group(0)!r} in ...{context}...")
    return missing


def run_problems(results: dict[str, Any], summary: str) -> list[str]:
    """The unbacked figures of a run's summary and of the README tables made from it."""
    from bench import readme  # the tables' generator; not needed for a text check

    problems = [f"summary.md: {m}" for m in unbacked(summary, results)]
    try:
        blocks = readme.generated(results)
    except (KeyError, TypeError, ValueError) as exc:  # a partial run lacks what they show
        return [*problems, f"README tables: not made from this run ({exc!r})"]
    return problems + [f"{path} {name}: {m}" for path, named in blocks.items()
                       for name, content in named.items() for m in unbacked(content, results)]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.figure_check RESULTS_DIR", file=sys.stderr)
        return 2
    run = Path(argv[0])
    problems = run_problems(load(run / "results.json"), (run / "summary.md").read_text())
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
