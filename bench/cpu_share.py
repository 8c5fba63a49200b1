"""Who used the CPUs during one wrk run: the machine's busy cores and each named role's
share (the gateway processes, Redis, NGINX), from the kernel's CPU times (psutil) read
before and after the run. What is left of the busy time is wrk's and anything else the
machine ran. The 2-process rows keep it, so that a scaling figure below its target comes
with the resource that stopped it (bench/targets.py: `scaling_target`)."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import psutil

from bench.procs import Proc


def _cpu_seconds(procs: list[Proc]) -> float:
    total = 0.0
    for proc in procs:
        for p in proc.processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                times = p.cpu_times()
                total += times.user + times.system
    return total


def _busy_seconds() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


class CpuShare:
    def __init__(self, roles: dict[str, list[Proc]]) -> None:
        self.roles = roles
        self.wall = time.monotonic()
        self.busy = _busy_seconds()
        self.start = {role: _cpu_seconds(procs) for role, procs in roles.items()}

    def stop(self) -> dict[str, Any]:
        """Cores' worth of CPU (1.0: one core all the time) over the run: `busy` for the
        whole machine (of `cores`), and per role."""
        wall = max(time.monotonic() - self.wall, 1e-9)
        roles = {role: (_cpu_seconds(procs) - self.start[role]) / wall
                 for role, procs in self.roles.items()}
        busy = (_busy_seconds() - self.busy) / wall
        return {"cores": psutil.cpu_count() or 1, "busy": busy, "roles": roles,
                "rest": max(busy - sum(roles.values()), 0.0)}
