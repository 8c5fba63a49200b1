"""`python -m bench` (what `make bench` runs): the side-by-side benchmark.

Writes bench/results/<date-time>/ (results.json, summary.md, PNG charts, server logs); a
full run (3 runs or more) also copies the summary and charts to bench/latest/, which the
README shows. Every server
it starts is stopped on the way out, also on Ctrl-C and errors; a server that fails to
start fails the run, with its log.
"""

from __future__ import annotations

import json
import math
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

from bench import charts, report, scenarios, webhooks_adapter
from bench.config import Config, from_env
from bench.procs import ROOT, Processes
from bench.targets import evaluate

RESULTS = ROOT / "bench" / "results"
LATEST = ROOT / "bench" / "latest"
BUSY_LOAD = 0.5  # load average per CPU at the start above which figures are noisy


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


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def write_outputs(results: dict[str, Any], out_dir: Path, cfg: Config) -> list[str]:
    targets = evaluate(results)
    results["targets"] = [t.as_dict() for t in targets]
    (out_dir / "results.json").write_text(json.dumps(_json_safe(results), indent=1))
    written = []
    if results.get("http", {}).get("scenarios"):
        charts.throughput(results["http"], cfg.runs, out_dir / "throughput.png")
        charts.latency_percentiles(results["http"], out_dir / "latency_http.png")
        written += ["throughput.png", "latency_http.png"]
    if results.get("e2e"):
        charts.e2e(results["e2e"], cfg.rate, out_dir / "e2e.png")
        written.append("e2e.png")
    if results.get("memory"):
        charts.memory(results["memory"], out_dir / "memory.png")
        written.append("memory.png")
    (out_dir / "summary.md").write_text(report.render(results, targets))
    return written


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

    load_start = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    results: dict[str, Any] = {"meta": {
        "started": started.strftime("%Y-%m-%d %H:%M:%S"), "cpus": cpus,
        "cpu_model": _cpu_model(), "python": sys.version.split()[0],
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
        log("webhooks: bench/webhooks_bench.py")
        results["webhooks"] = webhooks_adapter.run(cfg.webhooks_timeout)
        log(f"webhooks: {results['webhooks']['status']}")
    except BaseException as exc:  # also Ctrl-C: servers are stopped; keep what we have
        failed = exc
        results["error"] = "".join(traceback.format_exception(exc))[-4000:]
    meta = results["meta"]
    meta["load_end"] = _load()
    meta["seconds"] = round(time.monotonic() - t0, 1)
    if load_start / cpus > BUSY_LOAD:
        meta["caveat"] = (
            f"the machine was busy when the run started (load average {load_start:.2f} on "
            f"{cpus} CPUs): other work shared the CPUs, so absolute figures are low and "
            "noisy. The ratios compare contenders measured side by side under the same "
            "noise; re-run on a quiet machine for the absolute figures.")
    written = write_outputs(results, out_dir, cfg)
    if failed is not None:
        log(f"FAILED: {failed!r}; partial results in {out_dir.relative_to(ROOT)}")
        if isinstance(failed, KeyboardInterrupt):
            return 130
        return 1
    where = f"{out_dir.relative_to(ROOT)}/summary.md"
    if cfg.runs >= 3:  # only full runs replace the figures the README shows
        LATEST.mkdir(exist_ok=True)
        for name in ["summary.md", *written]:
            shutil.copy2(out_dir / name, LATEST / name)
        where += f" (copied to {LATEST.relative_to(ROOT)}/)"
    log(f"done in {meta['seconds']:.0f} s: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
