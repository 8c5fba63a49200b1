"""`python -m worker.jobs.healthcheck [hostname]`: exit 0 when this worker's heartbeat is recent.

For container healthchecks: one Redis read, no broadcast to every worker (which is what
`celery inspect ping` costs). The hostname defaults to Celery's, `celery@<host name>`.
One try with a 1 s timeout (tasks/redis/clients.py): with Redis down or not answering the
"unhealthy" comes within 2 s, inside any container healthcheck's timeout.
"""

from __future__ import annotations

import socket
import sys
import time

from redis.exceptions import RedisError

from tasks.heartbeat import ALIVE_WINDOW_SECONDS
from tasks.redis.clients import HEALTH_CHECK_TIMEOUT_SECONDS, Outage, sync_client
from tasks.redis.keys import WORKERS_KEY
from tasks.settings import Settings, get_settings


def check(settings: Settings, hostname: str) -> str | None:
    """None when `hostname` stamped its heartbeat recently, else why it is unhealthy."""
    client = sync_client(settings, Outage.FAIL_FAST, timeout=HEALTH_CHECK_TIMEOUT_SECONDS)
    try:
        stamp = client.zscore(WORKERS_KEY, hostname)
    except RedisError as exc:
        return f"Redis: {exc}"
    finally:
        client.close()
    if stamp is None or stamp < time.time() - ALIVE_WINDOW_SECONDS:
        return f"no recent heartbeat from {hostname}"
    return None


def main(argv: list[str]) -> int:
    problem = check(get_settings(), argv[0] if argv else f"celery@{socket.gethostname()}")
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
