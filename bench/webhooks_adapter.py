"""The webhook figures come from `bench/webhooks_bench.py` (the webhook feature's own
script). Contract: `python -m bench.webhooks_bench --json` starts what it needs, stops it,
and prints one JSON object (its last stdout line that parses as one). Missing script: the
summary says so."""

from __future__ import annotations

import json
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


def run(timeout: float) -> dict[str, Any]:
    if not SCRIPT.exists():
        return {"status": "missing",
                "reason": "bench/webhooks_bench.py is not in this build"}
    argv = [sys.executable, "-m", "bench.webhooks_bench", "--json"]
    try:
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "reason": f"timed out after {timeout:.0f} s"}
    data = last_json_object(proc.stdout)
    if proc.returncode != 0 or data is None:
        return {"status": "failed", "reason": f"exit {proc.returncode}",
                "stderr_tail": proc.stderr[-1500:], "stdout_tail": proc.stdout[-500:]}
    return {"status": "ok", "results": data}
