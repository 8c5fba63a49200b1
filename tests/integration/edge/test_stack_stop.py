"""Ctrl-C on `make up` while jobs run, and the next `make up`.

The real `make up`, on free ports with a run directory of its own, is sent SIGINT the way a
terminal sends it (to its foreground process group: make and infra/stack.py; the services
run in sessions of their own and hear only from the stack). Then: NGINX, the gateway,
Flower and Locust stop first, the worker next, the dispatcher, Redis last; a short job
that was running finishes during the worker's grace period; a long one goes back to the
queue (its record QUEUED), nothing is SIGKILLed and no message is lost on a closed broker.
The next `make up` runs every job to its end long before CELERY_VISIBILITY_TIMEOUT (kept at
its hour), so no job is left STARTED without a worker.

It also checks what only a real `make up` shows of the closed stack: every file it writes
under the run directory is its owner's only, and Redis refuses a client without the
password.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import redis

from infra import stack
from tasks.settings import Settings
from tests.support.helpers import TERMINAL, job
from tests.support.servers import ROOT, free_port, wait_until

SHORT_SECONDS = 4.0  # outlasts the front's stop: still running when the worker is told
GRACE_SECONDS = 6.0  # WORKER_SHUTDOWN_GRACE_SECONDS of this stack
LONG_SECONDS = 14.0  # outlasts the grace period by far
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


def stack_environment(run_dir: Path) -> tuple[dict[str, str], Settings]:
    """The developer's environment without any setting of the project, then ours."""
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k not in names}
    ours = {
        "GATEWAY_ENV_FILE": "/dev/null",  # a developer's .env must not leak in
        "STACK_RUN_DIR": str(run_dir),
        "REDIS_PORT": str(free_port()), "GATEWAY_PORT": str(free_port()),
        "NGINX_PORT": str(free_port()), "LOCUST_PORT": str(free_port()),
        "WORKER_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        "FLOWER_BASIC_AUTH": "ops:stop-test-password",
    }
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in ours.items()
                                           if k.lower() in Settings.model_fields})
    return {**env, **ours}, settings


def transitions(run: MakeUp) -> list[tuple[int, dict[str, Any]]]:
    """(line index, logged transition) of every job transition the worker printed."""
    out = []
    for index, (name, text) in enumerate(run.lines()):
        if name == "worker" and text.startswith("{"):
            line = json.loads(text)
            if line.get("event") == "job.transition":
                out.append((index, line))
    return out


def check_stop_order(run: MakeUp) -> None:
    lines = run.lines()
    stopped = [m[1] for name, text in lines if name == "system"
               and (m := re.fullmatch(r"(\S+) stopped \(rc=-?\d+\)", text))]
    assert sorted(stopped) == sorted([*stack.FRONT, "worker", "dispatcher", "redis"]), stopped
    assert set(stopped[:len(stack.FRONT)]) == set(stack.FRONT), stopped
    assert stopped[len(stack.FRONT):] == ["worker", "dispatcher", "redis"], stopped
    texts = [text for _, text in lines]
    assert not [t for t in texts if "SIGKILL" in t or "Couldn't" in t or "ConnectionError" in t]


def line_index(run: MakeUp, name: str, pattern: str) -> int:
    return next(i for i, (n, text) in enumerate(run.lines())
                if n == name and re.search(pattern, text))


def submit(client: httpx.Client, path: str, body: dict[str, Any]) -> str:
    r = client.post(f"/producer/api/{path}", json=body)
    assert r.status_code == 200, r.text
    job_id: str = r.json()["job_id"]
    return job_id


def check_closed(run_dir: Path, settings: Settings) -> None:
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    for path in (run_dir / "redis").rglob("*"):  # the append-only files, the config, the URL
        want = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == want, path
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=settings.redis_port, socket_timeout=5).ping()
    url = (run_dir / "redis" / "url").read_text().strip()
    assert redis.Redis.from_url(url, socket_timeout=5).ping()


@pytest.mark.timeout(READY_TIMEOUT * 2 + STOP_TIMEOUT * 2 + LONG_SECONDS + 120)
def test_ctrl_c_stops_in_order_and_leaves_no_job_started(tmp_path: Path) -> None:
    env, settings = stack_environment(tmp_path / "run")
    log_path = tmp_path / "make-up.log"
    base = stack.nginx_url(settings)
    run = MakeUp(env, log_path)
    try:
        run.start()
        with httpx.Client(base_url=base, timeout=10) as client:
            short = submit(client, "wait_and_return", {"seconds": SHORT_SECONDS})
            long = submit(client, "wait_and_return", {"seconds": LONG_SECONDS})
            # Two pool processes run those two; these wait in the queue meanwhile.
            queued = [submit(client, "sum", {"number": n}) for n in (10, 20, 30)]
            wait_until(lambda: all(job(client, i)["status"] == "STARTED"
                                   for i in (short, long)), 30, "both waits to start")
        first_stop = run.ctrl_c()
        print(f"\nCtrl-C with a {LONG_SECONDS:.0f} s job running "
              f"(grace {GRACE_SECONDS:.0f} s): make up exited after {first_stop:.1f} s")
        check_stop_order(run)
        worker_told = line_index(run, "system", r"^stopping worker ")
        moves = {(t["job_id"], t["status"]): index for index, t in transitions(run)}
        # The short job ended in the grace period, after the worker was told to stop.
        assert moves[(short, "SUCCEEDED")] > worker_told
        assert moves[(long, "QUEUED")] > worker_told and (long, "SUCCEEDED") not in moves
        assert not [i for i in queued if (i, "STARTED") in moves]

        run = MakeUp(env, log_path)  # the next `make up`, on the same run directory
        run.start()
        with httpx.Client(base_url=base, timeout=10) as client:
            def all_ended() -> bool:
                return all(job(client, i)["status"] in TERMINAL for i in [short, long, *queued])

            # Redelivered at once, not after CELERY_VISIBILITY_TIMEOUT (an hour).
            wait_until(all_ended, LONG_SECONDS + 60, "every job to end after the restart",
                       interval=0.5)
            records = {i: job(client, i) for i in [short, long, *queued]}
        assert {r["status"] for r in records.values()} == {"SUCCEEDED"}
        assert records[short]["attempts"] == 1 and records[long]["attempts"] == 2
        assert all(records[i]["attempts"] == 1 for i in queued)
        check_closed(tmp_path / "run", settings)

        idle_stop = run.ctrl_c()
        print(f"Ctrl-C of an idle stack: make up exited after {idle_stop:.1f} s")
        check_stop_order(run)
    finally:
        run.kill()
