"""`python -m worker.jobs.healthcheck [hostname]`: exit 0 when this worker's heartbeat is recent.

For container healthchecks: one Redis read, no broadcast to every worker (which is what
`celery inspect ping` costs). The hostname defaults to Celery's, `celery@<host name>`.
"""

from __future__ import annotations

import socket
import sys
import time

from redis.exceptions import RedisError

from tasks.heartbeat import ALIVE_WINDOW_SECONDS, WORKERS_KEY
from tasks.jobs.store import JobStore
from tasks.settings import get_settings


def main(argv: list[str]) -> int:
    hostname = argv[0] if argv else f"celery@{socket.gethostname()}"
    try:
        stamp = JobStore.from_settings(get_settings()).client.zscore(WORKERS_KEY, hostname)
    except RedisError as exc:
        print(f"unhealthy: Redis: {exc}", file=sys.stderr)
        return 1
    if stamp is None or stamp < time.time() - ALIVE_WINDOW_SECONDS:
        print(f"unhealthy: no recent heartbeat from {hostname}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
