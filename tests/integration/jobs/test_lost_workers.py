"""A whole worker lost (its process group SIGKILLed): its running jobs go back to their queue
once its heartbeat has been silent for WORKER_LOST_AFTER_SECONDS, and run on another worker,
with CELERY_VISIBILITY_TIMEOUT left at an hour; never two runs of a job at once. A worker
only briefly silent is not taken for lost, and a worker started again under the crashed
one's hostname does not hide the crashed run's jobs.

Every run of a job appends its start and end (with the worker and the time) to a Redis list
(`logged_wait`, tests/support/fixture_functions.py). Limits are the configuration's (the
silence, a beat, the run time) plus room that scales with the measured start-up time of a
worker on this machine, as in test_worker_loss.py; waits poll conditions.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psutil
import pytest
import redis

from tasks import metrics
from tasks.heartbeat import beat_interval
from tasks.jobs.record import as_text
from tasks.redis.keys import WORKER_RUNS_KEY
from tests.support.fault_helpers import job_fields, log_size, start_ready_worker, wait_worker_ready
from tests.support.launcher import Launcher
from tests.support.servers import FIXTURE_FUNCTIONS, RedisServer, Service, stack_env, wait_until

LOST_AFTER = 5.0  # WORKER_LOST_AFTER_SECONDS of these tests
RUN_SECONDS = 3.0  # how long each job runs again on another worker
CUT_SHORT_SECONDS = 60.0  # how long its first run would run: its worker dies first
JOBS = 20
STARTUPS = 4  # room: this many start-ups of a worker on this machine


@dataclass
class LostStack:
    env: dict[str, str]
    client: httpx.Client
    redis: redis.Redis

    def submit(self, function: str, **job_input: Any) -> str:
        r = self.client.post("/producer/api/jobs", json={"function": function,
                                                         "input": job_input})
        assert r.status_code == 202, r.text
        job_id: str = r.json()["id"]
        return job_id

    def runs(self, log_key: str) -> dict[str, list[dict[str, Any]]]:
        """Each job's logged starts and ends, in order."""
        by_job: dict[str, list[dict[str, Any]]] = {}
        for raw in self.redis.lrange(log_key, 0, -1):
            entry = json.loads(raw)
            by_job.setdefault(entry["job"], []).append(entry)
        return by_job

    def wait_running(self, job_ids: list[str], log_key: str, timeout: float) -> None:
        """Until each job's function has logged its start: STARTED alone is written before
        the function runs, and a worker killed in between leaves a run the function never
        counted (the next run would then sleep `first_seconds`, as if it were the first)."""
        def logged() -> bool:
            runs = self.runs(log_key)
            return all(runs.get(job_id) for job_id in job_ids)

        wait_until(logged, timeout, f"{len(job_ids)} jobs' functions to start")

    def recovered(self) -> dict[str, int]:
        counts = self.redis.hgetall(metrics.JOBS_RECOVERED.key)
        return {as_text(k): int(v) for k, v in counts.items()}

    def wait_all(self, job_ids: list[str], statuses: set[str], timeout: float,
                 worker: str | None = None) -> dict[str, list[str]]:
        """Until every job is in `statuses` (and, if given, on `worker`); returns each one's
        status, worker, attempts, error and finished_at."""
        seen: dict[str, list[str]] = {}

        def done() -> bool:
            seen.update(job_fields(self.redis, job_ids, "status", "worker", "attempts",
                                   "error", "finished_at"))
            return all(f[0] in statuses and (worker is None or f[1] == worker)
                       for f in seen.values())

        wait_until(done, timeout, f"{len(job_ids)} jobs to be {statuses}", interval=0.1)
        return seen


@pytest.fixture(scope="module")
def stack(module_launch: Launcher, own_redis: RedisServer) -> Iterator[LostStack]:
    env = stack_env(own_redis.url, EXTRA_FUNCTION_MODULES=f'["{FIXTURE_FUNCTIONS}"]',
                    WORKER_LOST_AFTER_SECONDS=f"{LOST_AFTER:g}",
                    CELERY_VISIBILITY_TIMEOUT="3600",
                    # One run only: a lost worker spends it (JOB_MAX_ATTEMPTS stays 3).
                    FUNCTION_POLICIES=json.dumps({"wait_and_return": {"max_retries": 0}}))
    gateway = module_launch.gateway(env, require_workers=False)
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        yield LostStack(env, client, own_redis.client())


def kill_whole(worker: Service) -> float:
    """SIGKILL the worker's process group; returns when every process of it is gone."""
    processes = [psutil.Process(worker.pid), *worker.children()]
    worker.kill()

    def gone() -> bool:
        try:
            return all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
                       for p in processes)
        except psutil.NoSuchProcess:
            return False  # gone meanwhile: look again

    wait_until(gone, 10, f"{worker.name} to be gone")
    return time.time()


def hostname_of(stack: LostStack, job_id: str) -> str:
    return job_fields(stack.redis, [job_id], "worker")[job_id][0]


@dataclass
class Killed:
    jobs: list[str]  # logged_wait, on the killed worker when it died
    spent: str  # wait_and_return with its one run spent on the killed worker
    victim: str
    rescuer: str
    dead_at: float
    records: dict[str, list[str]]
    runs: dict[str, list[dict[str, Any]]]
    recovered: dict[str, int]
    rescuer_log: str


@pytest.fixture(scope="module")
def killed(stack: LostStack, module_launch: Launcher) -> Killed:
    """Two workers; the one running all 21 jobs is killed as a whole."""
    env = {**stack.env, "WORKER_CONCURRENCY": str(JOBS + 1)}
    victim, startup = start_ready_worker(module_launch, env, "lost-victim")
    jobs = [stack.submit("logged_wait", log_key="killed", seconds=RUN_SECONDS,
                         first_seconds=CUT_SHORT_SECONDS) for _ in range(JOBS)]
    spent = stack.submit("wait_and_return", seconds=30)
    stack.wait_all([*jobs, spent], {"STARTED"}, STARTUPS * startup)
    stack.wait_running(jobs, "killed", STARTUPS * startup)
    victim_name = hostname_of(stack, spent)
    rescuer, startup_again = start_ready_worker(module_launch, env, "lost-rescuer")
    before = stack.recovered()
    dead_at = kill_whole(victim)
    limit = LOST_AFTER + beat_interval(LOST_AFTER) + RUN_SECONDS + STARTUPS * max(
        startup, startup_again)
    records = stack.wait_all([*jobs, spent], {"SUCCEEDED", "FAILED"}, limit)
    after = stack.recovered()
    rescuer.stop()  # the other tests start their own workers
    runs = stack.runs("killed")
    # The figures docs/SCALING.md quotes (seen with pytest -s).
    again = [entries[-2]["at"] - dead_at for entries in runs.values() if len(entries) > 1]
    ends = [float(records[j][4]) - dead_at for j in jobs]
    print(f"\n{JOBS} jobs of {RUN_SECONDS:g} s, WORKER_LOST_AFTER_SECONDS={LOST_AFTER:g}, "
          f"beat {beat_interval(LOST_AFTER):g} s: running again {min(again, default=0):.2f} "
          f"to {max(again, default=0):.2f} s after the worker died, ended "
          f"{min(ends):.2f} to {max(ends):.2f} s after")
    return Killed(jobs, spent, victim_name, hostname_of(stack, spent), dead_at, records, runs,
                  {k: v - before.get(k, 0) for k, v in after.items()},
                  rescuer.log_path.read_text(errors="replace"))


def test_killed_workers_jobs_run_again_on_another_worker(killed: Killed) -> None:
    assert killed.rescuer != killed.victim
    for job_id in killed.jobs:
        status, worker, attempts, _, _ = killed.records[job_id]
        assert (status, worker, attempts) == ("SUCCEEDED", killed.rescuer, "2")
    assert killed.recovered == {"logged_wait": JOBS, "wait_and_return": 1}
    assert f"worker {killed.victim} lost" in killed.rescuer_log
    assert all(job_id in killed.rescuer_log for job_id in killed.jobs)


def test_no_job_ran_twice_at_the_same_time(killed: Killed) -> None:
    for job_id in killed.jobs:
        runs = killed.runs[job_id]
        # One run on the killed worker, cut off (no end); then one whole run on the other,
        # begun only after every process of the killed worker was gone.
        assert [(r["event"], r["worker"]) for r in runs] == [
            ("start", killed.victim), ("start", killed.rescuer), ("end", killed.rescuer)]
        assert runs[1]["at"] > killed.dead_at


def test_a_job_whose_attempts_are_spent_fails(killed: Killed) -> None:
    status, worker, attempts, error, _ = killed.records[killed.spent]
    assert (status, worker, attempts) == ("FAILED", killed.rescuer, "2")
    assert json.loads(error)["type"] == "WorkerLostError"


def start_ready_workers(launch: Launcher, env: dict[str, str], *names: str) -> list[Service]:
    """Workers started together, once every one consumes."""
    offsets = [log_size(name) for name in names]
    workers = [launch.worker(env, name) for name in names]
    for worker, offset in zip(workers, offsets, strict=True):
        wait_worker_ready(worker, offset, timeout=120)
    return workers


def test_briefly_silent_worker_is_not_lost(stack: LostStack, launch: Launcher) -> None:
    """A worker whose main process (heartbeat and all) stops for 2 beats, its job running
    on: the other worker does not take it for lost."""
    silent_seconds = 2 * beat_interval(LOST_AFTER)
    env = {**stack.env, "WORKER_CONCURRENCY": "1"}
    workers = start_ready_workers(launch, env, "lost-slow-a", "lost-slow-b")
    jobs = [stack.submit("logged_wait", log_key="slow", seconds=silent_seconds + 2)
            for _ in workers]
    records = stack.wait_all(jobs, {"STARTED"}, 30)
    hostname = records[jobs[0]][1]
    [slow] = [w for w in workers if hostname.startswith(w.name + "-")]
    before = stack.recovered()
    os.kill(slow.pid, signal.SIGSTOP)
    try:
        time.sleep(silent_seconds)  # the fault: a silent heartbeat, for this long
    finally:
        os.kill(slow.pid, signal.SIGCONT)
    records = stack.wait_all(jobs, {"SUCCEEDED"}, 30)
    assert all(fields[2] == "1" for fields in records.values())
    assert records[jobs[0]][1] == hostname
    assert [len(runs) for runs in stack.runs("slow").values()] == [2, 2]  # a start, an end
    assert stack.recovered() == before
    runs = [as_text(r) for r in stack.redis.zrange(WORKER_RUNS_KEY, 0, -1)]
    assert any(run.startswith(hostname + "/") for run in runs)


def test_worker_started_again_under_its_hostname(stack: LostStack, launch: Launcher) -> None:
    """The crashed worker's successor stamps the same hostname at once; the crashed run's
    job still goes back, and runs on the successor."""
    env = {**stack.env, "WORKER_CONCURRENCY": "1"}
    hostname = f"lost-again-{os.getpid()}@%h"
    first, startup = start_ready_worker(launch, env, "lost-again-1", hostname)
    job_id = stack.submit("logged_wait", log_key="again", seconds=RUN_SECONDS,
                          first_seconds=CUT_SHORT_SECONDS)
    stack.wait_all([job_id], {"STARTED"}, STARTUPS * startup)
    stack.wait_running([job_id], "again", STARTUPS * startup)
    name = hostname_of(stack, job_id)
    dead_at = kill_whole(first)
    _, startup_again = start_ready_worker(launch, env, "lost-again-2", hostname)
    limit = LOST_AFTER + beat_interval(LOST_AFTER) + RUN_SECONDS + STARTUPS * startup_again
    record = stack.wait_all([job_id], {"SUCCEEDED"}, limit)[job_id]
    assert (record[1], record[2]) == (name, "2")
    runs = stack.runs("again")[job_id]
    assert [(r["event"], r["worker"]) for r in runs] == [
        ("start", name), ("start", name), ("end", name)]
    assert runs[1]["at"] > dead_at
