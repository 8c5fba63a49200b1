"""The webhook figures come from `bench/webhooks_bench.py` (the webhook feature's own
script), run with this run's rounds, deliveries and latency seconds. Contract:
`python -m bench.webhooks_bench --json ...` starts what it needs, stops it, and prints one
JSON object (its last stdout line that parses as one), which results.json keeps under
`webhooks.results`. Missing script: the summary says so."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
from typing import Any

from bench.procs import ROOT

SCRIPT = ROOT / "bench" / "webhooks_bench.py"


def last_json_object(text: str) -> dict[str, Any] | None:
    """The whole output as JSON, else its last line that is a JSON object."""
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            return data
    except ValueError:
        pass
    for line in reversed(text.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return None


def run(timeout: float, runs: int, deliveries: int, latency_seconds: float) -> dict[str, Any]:
    if not SCRIPT.exists():
        return {"status": "missing",
                "reason": "bench/webhooks_bench.py is not in this build"}
    argv = [sys.executable, "-m", "bench.webhooks_bench", "--json", f"--runs={runs}",
            f"--deliveries={deliveries}", f"--latency-seconds={latency_seconds:g}"]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _interrupt(proc)
        return {"status": "failed", "reason": f"timed out after {timeout:.0f} s"}
    except BaseException:  # Ctrl-C or SIGTERM of the run: let the script clean up first
        _interrupt(proc)
        raise
    data = last_json_object(stdout)
    if proc.returncode != 0 or data is None:
        return {"status": "failed", "reason": f"exit {proc.returncode}",
                "stderr_tail": stderr[-1500:], "stdout_tail": stdout[-500:]}
    return {"status": "ok", "results": data}


def _interrupt(proc: subprocess.Popen[str]) -> None:
    """SIGINT first (the script's own cleanup stops the servers it started), then
    SIGTERM, then SIGKILL, each after a grace period."""
    for sig, grace in ((signal.SIGINT, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
