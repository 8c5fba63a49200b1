"""`python -m bench` (what `make bench` runs): the side-by-side benchmark.

Writes bench/results/<date-time>/: results.json (every run of every scenario, the
machine, the commit), and from it alone summary.md, the PNG charts and readme_blocks.md
(the README's tables as `python -m bench.readme` makes them), with the server logs. Every
figure printed is checked against results.json (bench/figure_check.py). A full run (3
runs or more) then copies results.json, the summary and the charts to bench/latest/ and
regenerates the README's and docs/SCALING.md's tables from it; a quick run
(BENCH_QUICK=1) never touches bench/latest or the README. Every server it starts is
stopped on the way out, also on Ctrl-C and errors; a server that fails to start fails
the run, with its log.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import (
    charts,
    listing,
    progress_bench,
    queues_bench,
    readme,
    report,
    scenarios,
    watching,
    webhooks_adapter,
)
from bench.config import Config, from_env
from bench.figure_check import run_problems
from bench.procs import ROOT, Processes
from bench.results_io import LATEST, dumps, load
from bench.targets import evaluate

RESULTS = ROOT / "bench" / "results"
COPIED = ["results.json", "summary.md"]  # and the charts the run drew


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True, check=False)
        return out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


def _redis_version() -> str:
    binary = shutil.which("redis-server") or "redis-server"
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True,
                             check=False).stdout
    except OSError:
        return "redis-server (version unknown)"
    version = next((w.removeprefix("v=") for w in out.split() if w.startswith("v=")), "")
    return f"redis-server {version or '(version unknown)'}"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def write_outputs(results: dict[str, Any], out_dir: Path,
                  cfg: Config) -> tuple[list[str], list[str]]:
    """results.json, then everything else from what it holds. Returns the charts drawn
    and the printed figures not found in results.json (none, unless a renderer printed
    a figure of its own: unbacked_figures.txt lists them)."""
    results["targets"] = [t.as_dict() for t in evaluate(results)]
    (out_dir / "results.json").write_text(dumps(results))
    data = load(out_dir / "results.json")
    written = []
    if data.get("http", {}).get("scenarios"):
        charts.throughput(data["http"], cfg.http_runs, cfg.connections, out_dir / "throughput.png")
        charts.latency_percentiles(data["http"], cfg.connections, out_dir / "latency_http.png")
        written += ["throughput.png", "latency_http.png"]
    if data.get("e2e"):
        charts.e2e(data["e2e"], cfg.rate, out_dir / "e2e.png")
        written.append("e2e.png")
    if data.get("memory"):
        charts.memory(data["memory"], out_dir / "memory.png")
        written.append("memory.png")
    summary = report.render(data)
    (out_dir / "summary.md").write_text(summary)
    problems = run_problems(data, summary)
    with contextlib.suppress(KeyError, TypeError, ValueError):  # a partial run: see problems
        (out_dir / "readme_blocks.md").write_text("\n\n".join(
            f"## {path}: {name}\n\n{content}" for path, named in readme.generated(data).items()
            for name, content in named.items()) + "\n")
    if problems:
        (out_dir / "unbacked_figures.txt").write_text("".join(f"{p}\n" for p in problems))
    return written, problems


def main() -> int:
    cfg = from_env()
    started = datetime.now()
    out_dir = RESULTS / started.strftime("%Y-%m-%d-%H%M%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()

    def log(message: str) -> None:
        line = f"[{time.monotonic() - t0:6.1f}s] {message}"
        print(line, flush=True)
        with (out_dir / "bench.log").open("a") as f:
            f.write(line + "\n")

    results: dict[str, Any] = {"meta": {
        "started": started.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count() or 1,
        "cpu_model": _cpu_model(), "python": sys.version.split()[0],
        "platform": platform.platform(), "redis": _redis_version(),
        "commit": _commit(), "load_start": _load(), "config": cfg.as_dict(),
    }}
    log(f"benchmark into {out_dir.relative_to(ROOT)} (config {cfg.as_dict()})")
    failed: BaseException | None = None
    try:
        with Processes(out_dir / "logs") as procs:
            results["http"] = scenarios.http_phase(procs, cfg, log)
            procs.stop_all()
            graphql = bool(results["http"]["graphql"]["available"])
            results["e2e"] = scenarios.e2e_phase(procs, cfg, log, graphql)
            procs.stop_all()
            results["memory"] = scenarios.memory_phase(procs, cfg, log)
            procs.stop_all()
            results["listing"] = listing.listing_phase(procs, cfg, log)
            procs.stop_all()
            results["progress"] = progress_bench.progress_phase(procs, cfg, log)
            procs.stop_all()
            results["queues"] = queues_bench.queues_phase(procs, cfg, log)
            procs.stop_all()
            results["watching"] = watching.watching_phase(procs, cfg, log)
        log("webhooks: bench/webhooks_bench.py")
        results["webhooks"] = webhooks_adapter.run(
            cfg.webhooks_timeout, cfg.runs, cfg.webhooks_deliveries,
            cfg.webhooks_latency_seconds)
        log(f"webhooks: {results['webhooks']['status']}")
    except BaseException as exc:  # also Ctrl-C: servers are stopped; keep what we have
        failed = exc
        results["error"] = "".join(traceback.format_exception(exc))[-4000:]
    meta = results["meta"]
    meta["load_end"] = _load()
    meta["seconds"] = round(time.monotonic() - t0, 1)
    written, problems = write_outputs(results, out_dir, cfg)
    if failed is not None:
        log(f"FAILED: {failed!r}; partial results in {out_dir.relative_to(ROOT)}")
        if isinstance(failed, KeyboardInterrupt):
            return 130
        return 1
    if problems:
        for problem in problems:
            log(f"figure not in results.json: {problem}")
        log(f"FAILED: {len(problems)} printed figures are not in results.json; bench/latest "
            "left as it was")
        return 1
    where = f"{out_dir.relative_to(ROOT)}/summary.md"
    if cfg.runs >= 3:  # only full runs replace the figures the README shows
        LATEST.mkdir(exist_ok=True)
        for name in [*COPIED, *written]:
            shutil.copy2(out_dir / name, LATEST / name)
        readme.update(load(LATEST / "results.json"))
        where += (f" (copied to {LATEST.relative_to(ROOT)}/; README.md and docs/SCALING.md "
                  "tables regenerated from it)")
    log(f"done in {meta['seconds']:.0f} s: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
