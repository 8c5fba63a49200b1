"""`python -m worker [celery worker options]`: start a Celery worker for the job gateway."""

from __future__ import annotations

import sys

from tasks.settings import get_settings
from worker.jobs.app import app


def main(argv: list[str]) -> None:
    settings = get_settings()  # the same settings the app was built with (cached)
    app.worker_main([
        "worker",
        f"--loglevel={settings.log_level}",
        f"--concurrency={settings.worker_concurrency}",
        f"--queues={settings.celery_queue}",
        *argv,
    ])


if __name__ == "__main__":
    main(sys.argv[1:])
