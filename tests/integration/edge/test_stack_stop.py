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

import json
import re
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from infra import stack
from tasks.settings import Settings
from tests.support.helpers import TERMINAL, job
from tests.support.make_up import (
    READY_TIMEOUT,
    STOP_TIMEOUT,
    MakeUp,
    stack_environment,
    stopped_in_order,
)
from tests.support.servers import wait_until

SHORT_SECONDS = 4.0  # outlasts the front's stop: still running when the worker is told
GRACE_SECONDS = 6.0  # WORKER_SHUTDOWN_GRACE_SECONDS of this stack
LONG_SECONDS = 14.0  # outlasts the grace period by far


def transitions(run: MakeUp) -> list[tuple[int, dict[str, Any]]]:
    """(line index, logged transition) of every job transition the worker printed."""
    out = []
    for index, (name, text) in enumerate(run.lines()):
        if name == "worker" and text.startswith("{"):
            line = json.loads(text)
            if line.get("event") == "job.transition":
                out.append((index, line))
    return out


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
    env, settings = stack_environment(
        tmp_path / "run", WORKER_SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS),
        FLOWER_BASIC_AUTH="ops:stop-test-password")
    log_path = tmp_path / "make-up.log"
    base = stack.nginx_url(settings)
    run = MakeUp(env, log_path)
    try:
        run.start()
        with httpx.Client(base_url=base, timeout=10) as client:
            short = submit(client, "wait_and_return", {"seconds": SHORT_SECONDS})
            long = submit(client, "wait_and_return", {"seconds": LONG_SECONDS})
            # The long queue's two pool processes run those two; this one waits meanwhile.
            queued = [submit(client, "wait_and_return", {"seconds": 0.1})]
            # The short queue has a Celery worker of its own: its jobs run all the same.
            sums = [submit(client, "sum", {"number": n}) for n in (10, 20, 30)]
            wait_until(lambda: all(job(client, i)["status"] == "STARTED"
                                   for i in (short, long)), 30, "both waits to start")
            wait_until(lambda: all(job(client, i)["status"] == "SUCCEEDED" for i in sums),
                       30, "the sums to end beside the waits")
        first_stop = run.ctrl_c()
        print(f"\nCtrl-C with a {LONG_SECONDS:.0f} s job running "
              f"(grace {GRACE_SECONDS:.0f} s): make up exited after {first_stop:.1f} s")
        stopped_in_order(run, settings)
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
        stopped_in_order(run, settings)
    finally:
        run.kill()
