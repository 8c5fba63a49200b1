"""Heartbeat timing (tasks/heartbeat.py): a worker is called lost only after missing several
beats in a row."""

from __future__ import annotations

import pytest

from tasks.heartbeat import BEATS_PER_LOST_AFTER, INTERVAL_SECONDS, beat_interval


@pytest.mark.parametrize(("lost_after", "interval"), [
    (30.0, INTERVAL_SECONDS), (0.0, INTERVAL_SECONDS), (5.0, 1.0), (4.0, 0.8)])
def test_beats_come_several_times_within_the_silence_that_means_lost(
        lost_after: float, interval: float) -> None:
    assert beat_interval(lost_after) == pytest.approx(interval)
    if lost_after:
        assert lost_after / beat_interval(lost_after) >= BEATS_PER_LOST_AFTER
