"""WEBHOOK_MAX_IN_FLIGHT_PER_DESTINATION: its default, and bad values refused with a message
that names the setting and its bounds; the dispatcher refuses to start with one."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from tasks.settings import Settings
from tests.servers import ROOT, stack_env


def settings(**env: str) -> Settings:
    return Settings(_env_file=None, **env)


def test_default_is_a_tenth_of_the_default_pool() -> None:
    s = Settings(_env_file=None)
    assert (s.webhook_max_in_flight, s.webhook_max_in_flight_per_destination) == (100, 10)
    assert settings(webhook_max_in_flight="10",
                    webhook_max_in_flight_per_destination="10").webhook_max_in_flight == 10


@pytest.mark.parametrize(("pool", "cap", "message"), [
    ("10", "11", "WEBHOOK_MAX_IN_FLIGHT_PER_DESTINATION must be between 1 and "
                 "WEBHOOK_MAX_IN_FLIGHT (10)"),
    ("5", "10", "WEBHOOK_MAX_IN_FLIGHT (5)"),  # a smaller pool needs a smaller cap
    ("100", "0", "greater than or equal to 1"),
    ("100", "ten", "valid integer"),
])
def test_bad_values_are_refused_with_a_clear_message(pool: str, cap: str, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        settings(webhook_max_in_flight=pool, webhook_max_in_flight_per_destination=cap)
    text = str(refused.value)
    assert message in text and "webhook_max_in_flight" in text.lower()


def test_the_dispatcher_refuses_to_start_with_a_cap_above_its_pool() -> None:
    env = stack_env("redis://127.0.0.1:1/0", WEBHOOK_MAX_IN_FLIGHT="4",
                    WEBHOOK_MAX_IN_FLIGHT_PER_DESTINATION="8")
    done = subprocess.run([sys.executable, "-m", "worker.dispatcher"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "WEBHOOK_MAX_IN_FLIGHT_PER_DESTINATION must be between 1 and" in done.stderr
