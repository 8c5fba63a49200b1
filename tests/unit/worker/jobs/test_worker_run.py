"""A worker process's run (worker/jobs/worker_run.py): named once Celery names the worker,
and another run at every start."""

from __future__ import annotations

from worker.jobs.worker_run import WorkerRun


def test_a_run_is_named_after_its_worker_and_this_start() -> None:
    run = WorkerRun(tracked=True)
    assert run.name == ""  # before Celery's celeryd_init names the worker
    run._named(sender="w1@host")
    assert run.name.startswith("w1@host/") and run.hostname == "w1@host"
    again = WorkerRun(tracked=True)
    again._named(sender="w1@host")
    assert again.name != run.name


def test_an_untracked_run_has_no_name() -> None:
    run = WorkerRun(tracked=False)
    run._named(sender="w1@host")
    assert run.name == "" and run.hostname == "w1@host"
