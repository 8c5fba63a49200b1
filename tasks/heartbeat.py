"""Worker liveness in Redis: each worker stamps its name every few seconds; the gateway's
/healthz counts the recent stamps. Works whatever the broker is."""

from __future__ import annotations

from tasks.jobs.store import KEY_PREFIX

WORKERS_KEY = f"{KEY_PREFIX}workers"  # sorted set: worker hostname -> last stamp (unix s)
INTERVAL_SECONDS = 5.0
ALIVE_WINDOW_SECONDS = 3 * INTERVAL_SECONDS
