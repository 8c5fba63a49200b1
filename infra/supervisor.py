"""honcho's process manager, stopping the processes stage by stage instead of all at once.

honcho (2.0) answers Ctrl-C, SIGTERM or the exit of any process by sending SIGTERM to every
process group at the same moment, and SIGKILL to all of them 5 s later. A stack cannot
stop well that way: the Celery worker must hand its running jobs back to Redis before
Redis goes, and SIGTERM to the worker's process group also reaches its pool processes,
which end the running jobs on the spot instead of letting them finish.

OrderedManager keeps honcho's start-up and output and replaces the stop: each stage's
processes get SIGTERM, the process itself and not its group (each command is `exec`ed, so
honcho's pid is the program's), and the next stage starts once they have all exited or the
stage's time is up, when its stragglers' groups get SIGKILL. Processes named in no stage
stop with the first. It reads honcho's record of pids and exit codes (`_processes`), the
only private part it uses.
"""

from __future__ import annotations

import datetime
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from honcho.manager import SYSTEM_PRINTER_NAME, Manager
from honcho.printer import Message

_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Stage:
    names: tuple[str, ...]
    timeout: float  # seconds from SIGTERM to SIGKILL


class OrderedManager(Manager):  # type: ignore[misc]  # honcho is untyped
    def __init__(self, stop_order: Sequence[Stage]) -> None:
        super().__init__()
        self.stop_order = tuple(stop_order)
        self._stopping = False

    def terminate(self) -> None:
        """Called by honcho on SIGINT/SIGTERM and when any process exits."""
        if self._stopping:
            return
        self._stopping = True
        threading.Thread(target=self._stop_in_order, name="stop-in-order", daemon=True).start()

    def kill(self) -> None:
        """honcho kills everything 5 s after the first process exited; here each stage has
        its own time, so only a failed ordered stop falls back to that."""
        if not self._stopping:
            super().kill()

    def _stop_in_order(self) -> None:
        try:
            named = {name for stage in self.stop_order for name in stage.names}
            first = self.stop_order[0]
            stages = [Stage(first.names + tuple(sorted(set(self._processes) - named)),
                            first.timeout), *self.stop_order[1:]]
            for stage in stages:
                self._stop_stage(stage)
        except Exception as exc:  # never leave the processes running: honcho's way then
            self._say(f"stopping in order failed ({exc!r}); killing what is left")
            self._stopping = False
            super().kill()

    def _stop_stage(self, stage: Stage) -> None:
        deadline = time.monotonic() + stage.timeout
        # A process not started yet is signalled once honcho knows its pid.
        waiting = [name for name in stage.names if name in self._processes]
        signalled: set[str] = set()
        while time.monotonic() < deadline:
            waiting = [name for name in waiting if not self._exited(name)]
            for name in waiting:
                pid = self._processes[name].get("pid")
                if pid is not None and name not in signalled:
                    self._say(f"stopping {name} (pid {pid})")
                    self._signal(pid, signal.SIGTERM)
                    signalled.add(name)
            if not waiting:
                return
            time.sleep(_POLL_SECONDS)
        for name in waiting:
            pid = self._processes[name].get("pid")
            self._say(f"{name} did not stop within {stage.timeout:.0f} s: SIGKILL")
            if pid is not None:
                self._signal(pid, signal.SIGKILL, group=True)

    def _exited(self, name: str) -> bool:
        return self._processes[name].get("returncode") is not None

    @staticmethod
    def _signal(pid: int, sig: signal.Signals, group: bool = False) -> None:
        try:
            if group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            pass  # gone meanwhile

    def _say(self, text: str) -> None:
        # Through honcho's event queue, so its loop prints it in order with the rest.
        self.events.put(Message(type="line", data=text + "\n", time=datetime.datetime.now(),
                                name=SYSTEM_PRINTER_NAME, colour=None))
