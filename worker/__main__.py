"""`python -m worker [-Q short,long] [celery worker options]`: the job gateway's worker.

It consumes every queue (tasks/queues.py) unless `-Q` names some, by role (`short`,
`long`) or by the queue's name. One queue: a Celery worker in this process, with the
queue's prefetch. Several: one such worker per queue, each a child process
(worker/jobs/per_queue.py).
"""

from __future__ import annotations

import sys

from tasks.logs import configure_logging
from tasks.queues import chosen
from tasks.settings import Settings, get_settings
from worker.jobs.per_queue import PerQueueWorkers, child_commands, take_queues


def run_one(settings: Settings, queue: str, argv: list[str]) -> None:
    from worker.jobs.app import app  # builds the worker's app: only where one runs

    app.worker_main([
        "worker",
        f"--loglevel={settings.log_level}",
        f"--concurrency={settings.worker_concurrency}",
        f"--prefetch-multiplier={settings.prefetch_multiplier(queue)}",
        f"--queues={queue}",
        *argv,
    ])


def main(argv: list[str]) -> None:
    settings = get_settings()  # the same settings the app is built with (cached)
    wanted, rest = take_queues(argv)
    try:
        queues = chosen(settings.queues, ",".join(settings.queues) if wanted is None else wanted)
    except ValueError as exc:
        sys.exit(f"python -m worker: {exc}")
    if len(queues) == 1:
        run_one(settings, queues[0], rest)
        return
    configure_logging(settings.log_level)
    roles = {name: role for role, name in reversed(settings.queues.items())}
    sys.exit(PerQueueWorkers(child_commands(queues, roles, rest)).run())


if __name__ == "__main__":
    main(sys.argv[1:])
