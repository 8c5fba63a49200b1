"""Worker liveness in Redis: each worker stamps its name every few seconds; the gateway's
/healthz counts the recent stamps. Works whatever the broker is."""

from __future__ import annotations

INTERVAL_SECONDS = 5.0
ALIVE_WINDOW_SECONDS = 3 * INTERVAL_SECONDS
