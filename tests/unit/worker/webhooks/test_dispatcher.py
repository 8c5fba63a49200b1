"""The dispatcher's process (worker/webhooks/dispatcher.py): it refuses to start with a
per-destination cap above its pool, and says which settings."""

from __future__ import annotations

import subprocess
import sys

from tests.support.servers import ROOT, stack_env


def test_the_dispatcher_refuses_to_start_with_a_cap_above_its_pool() -> None:
    env = stack_env("redis://127.0.0.1:1/0", WEBHOOK_MAX_IN_FLIGHT="4",
                    WEBHOOK_MAX_IN_FLIGHT_PER_DESTINATION="8")
    done = subprocess.run([sys.executable, "-m", "worker.dispatcher"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "WEBHOOK_MAX_IN_FLIGHT_PER_DESTINATION must be between 1 and" in done.stderr
