"""The real `make up` for the tests that need all of it (its supervisor, its ready check,
Ctrl-C): started on free ports with a run directory of its own, in a process group of its
own, its output in a file; and what its output says about the stop."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import psutil

from infra import stack
from infra.ports import stack_ports
from tasks.settings import Settings
from tests.support.servers import ROOT, wait_until

READY_TIMEOUT = 180.0
STOP_TIMEOUT = 90.0  # bounds a hung stop; the stack's own stage limits add up to about 50 s
LINE = re.compile(r"^\d\d:\d\d:\d\d (?P<name>\S+)\s*\| (?P<text>.*)$")


class MakeUp:
    """`make up` in the foreground of a process group of its own, its output in a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.offset = 0  # where this run's output starts in the log

    def start(self) -> MakeUp:
        self.offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(["make", "up"], cwd=ROOT, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"make up exited early:\n{self.output()[-4000:]}")
            return "The job gateway is ready" in self.output()

        wait_until(ready, READY_TIMEOUT, "make up to be ready", interval=0.5)
        return self

    def output(self) -> str:
        with self.log_path.open("rb") as log:
            log.seek(self.offset)
            return log.read().decode(errors="replace")

    def lines(self) -> list[tuple[str, str]]:
        """(process name, text) of each line honcho printed."""
        return [(m["name"], m["text"]) for m in map(LINE.match, self.output().splitlines())
                if m]

    def ctrl_c(self) -> float:
        """SIGINT as a terminal sends it; the seconds until `make up` has exited."""
        assert self.proc is not None
        started = time.monotonic()
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(STOP_TIMEOUT)
        return time.monotonic() - started

    def kill(self) -> None:
        """After a failed test: nothing may be left running (the services have sessions
        of their own, so their group is not make's)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            family = psutil.Process(self.proc.pid).children(recursive=True)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for process in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        self.proc.wait(10)


def stack_environment(run_dir: Path, **settings: str) -> tuple[dict[str, str], Settings]:
    """The developer's environment without any setting of the project, then ours (free
    ports; GATEWAY_PROCESSES of them from GATEWAY_PORT on), then `settings`."""
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k not in names}
    processes = int(settings.get("GATEWAY_PROCESSES", "1"))
    ours = {
        "GATEWAY_ENV_FILE": "/dev/null",  # a developer's .env must not leak in
        "STACK_RUN_DIR": str(run_dir),
        **{name: str(port) for name, port in stack_ports(processes).items()},
        **settings,
    }
    parsed = Settings(_env_file=None, **{k.lower(): v for k, v in ours.items()
                                         if k.lower() in Settings.model_fields})
    return {**env, **ours}, parsed


def stopped_in_order(run: MakeUp, settings: Settings) -> None:
    """Every process stopped, the front first (NGINX and every gateway among them), then
    the worker, the dispatcher, Redis; nothing was killed and nothing lost its Redis."""
    lines = run.lines()
    front = stack.front(settings)
    stopped = [m[1] for name, text in lines if name == "system"
               and (m := re.fullmatch(r"(\S+) stopped \(rc=-?\d+\)", text))]
    assert sorted(stopped) == sorted([*front, "worker", "dispatcher", "redis"]), stopped
    assert set(stopped[:len(front)]) == set(front), stopped
    assert stopped[len(front):] == ["worker", "dispatcher", "redis"], stopped
    texts = [text for _, text in lines]
    assert not [t for t in texts if "SIGKILL" in t or "Couldn't" in t or "ConnectionError" in t]
