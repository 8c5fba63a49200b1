"""Bare Celery's client side: `.delay()`-style publishes at a fixed rate, in a process of
its own so that its ~1 ms of CPU per publish never delays the observer's polling.

    python -m bench.bare_submit BROKER_URL RATE START_MONOTONIC < ids.json > sent.json

Reads the task ids to use (a JSON list) on stdin; publishes job i at
START_MONOTONIC + i / RATE (time.monotonic() is system-wide on Linux, so the observer
compares its clock with ours); prints [[id, monotonic time just before publishing], ...].
"""

from __future__ import annotations

import json
import sys
import time

from bench.reference_celery import TASK_NAME, make_app


def main(argv: list[str]) -> None:
    url, rate, start = argv[0], float(argv[1]), float(argv[2])
    ids: list[str] = json.load(sys.stdin)
    app = make_app(url)
    app.connection_for_write().ensure_connection(max_retries=3)
    task = app.tasks[TASK_NAME]
    sent: list[tuple[str, float]] = []
    for i, task_id in enumerate(ids):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t0 = time.monotonic()
        task.apply_async(args=[1], task_id=task_id)
        sent.append((task_id, t0))
    json.dump(sent, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
