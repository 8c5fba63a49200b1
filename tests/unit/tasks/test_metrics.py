"""The shared metrics (tasks/metrics.py)."""

from __future__ import annotations

import pytest

from tasks import metrics
from tasks.redis.keys import BREAKER_TRANSITIONS_METRIC_KEY, LUA_NAMES


def test_metric_label_count_is_checked() -> None:
    with pytest.raises(ValueError):
        metrics.JOBS_FINISHED.inc("only-one")


def test_the_breaker_counter_is_the_hash_the_lua_scripts_count_in() -> None:
    assert metrics.WEBHOOK_BREAKER_TRANSITIONS.key == BREAKER_TRANSITIONS_METRIC_KEY
    assert LUA_NAMES["breaker_transitions"] == BREAKER_TRANSITIONS_METRIC_KEY
    assert metrics.WEBHOOK_BREAKER_TRANSITIONS in metrics.SHARED_METRICS
