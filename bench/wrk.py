"""Closed-loop HTTP load with `wrk` (C, epoll): far lighter than a Python client on a
2-core machine, so the server under test gets the CPU. A generated Lua script sets the
method and body and prints the summary and latency percentiles as JSON."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Percentiles kept from each run, for the summary and the percentile plots.
PERCENTILES = (1, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97, 98, 99, 99.5,
               99.9, 99.99)
MARKER = "WRK_JSON "

_DONE = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local ps = {}
  for _, p in ipairs({%(percentiles)s}) do
    ps[#ps + 1] = string.format('"%%s": %%d', tostring(p), latency:percentile(p))
  end
  local e = summary.errors
  io.write(string.format(
    '%(marker)s{"requests": %%d, "duration_us": %%d, "bytes": %%d, ' ..
    '"errors": {"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}, ' ..
    '"latency_us": {%%s}, "mean_us": %%f, "max_us": %%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, table.concat(ps, ", "), latency.mean, latency.max))
end
"""

def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def script(method: str = "GET", body: str | None = None,
           headers: dict[str, str] | None = None) -> str:
    lines = [f"wrk.method = {lua_string(method)}"]
    if body is not None:
        lines += [f"wrk.body = {lua_string(body)}",
                  'wrk.headers["Content-Type"] = "application/json"']
    lines += [f"wrk.headers[{lua_string(name)}] = {lua_string(value)}"
              for name, value in (headers or {}).items()]
    text = "\n".join(lines) + _DONE % {
        "percentiles": ", ".join(str(p) for p in PERCENTILES), "marker": MARKER}
    return text


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    errors: dict[str, int]
    latency_ms: dict[str, float]  # percentile ("50", "99.9", ...) -> milliseconds
    mean_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "seconds": self.seconds, "rps": self.rps,
                "errors": self.errors, "latency_ms": self.latency_ms,
                "mean_ms": self.mean_ms}


def parse(output: str) -> WrkResult:
    for line in output.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER):])
            return WrkResult(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                errors=data["errors"],
                latency_ms={**{k: v / 1000 for k, v in data["latency_us"].items()},
                            "100": data["max_us"] / 1000},
                mean_ms=data["mean_us"] / 1000,
            )
    raise RuntimeError(f"wrk printed no summary:\n{output[-2000:]}")


def binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is not installed (make bench installs it with apt-get)")
    return path


def run(url: str, *, seconds: float, connections: int = 64, threads: int = 2,
        method: str = "GET", body: str | None = None, headers: dict[str, str] | None = None,
        timeout_s: float = 10, stop_when: Callable[[], bool] | None = None) -> WrkResult:
    """Load `url` for `seconds`, or until `stop_when()` says so (checked every 0.1 s; wrk
    then stops on SIGINT and reports what it did)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script(method, body, headers))
        lua = Path(f.name)
    argv = [binary(), f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s",
            f"--timeout={timeout_s:.0f}s", "-s", str(lua), url]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + seconds + 30
        while proc.poll() is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"wrk did not finish within {seconds + 30:.0f} s")
            if stop_when is not None and stop_when():
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.1)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        lua.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {stderr[-2000:]}")
    return parse(stdout)
