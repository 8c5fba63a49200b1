"""Worker liveness in Redis: each worker stamps its name every few seconds; the gateway's
/healthz counts the recent stamps. Works whatever the broker is."""

from __future__ import annotations

INTERVAL_SECONDS = 5.0
ALIVE_WINDOW_SECONDS = 3 * INTERVAL_SECONDS
# A worker is called lost only after missing this many beats in a row
# (WORKER_LOST_AFTER_SECONDS): a slow beat or two is no loss.
BEATS_PER_LOST_AFTER = 5


def beat_interval(lost_after: float) -> float:
    """Seconds between beats: every INTERVAL_SECONDS, or more often when a short
    WORKER_LOST_AFTER_SECONDS (0: off) needs BEATS_PER_LOST_AFTER beats within it."""
    if lost_after <= 0:
        return INTERVAL_SECONDS
    return min(INTERVAL_SECONDS, lost_after / BEATS_PER_LOST_AFTER)
