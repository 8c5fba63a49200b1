"""The bound on open event streams and long polls, their end at shutdown
(gateway/services/streams.py), and long polling's `wait` (gateway/services/live.py)."""

from __future__ import annotations

import math

import pytest

from gateway.services.errors import InvalidInput, TooManyStreams, Unavailable
from gateway.services.live import check_wait
from gateway.services.streams import StreamGate


def test_the_gate_bounds_open_slots_and_gives_them_back() -> None:
    gate = StreamGate(2)
    first = gate.take()
    with gate.slot():
        assert gate.open == 2
        with pytest.raises(TooManyStreams, match="EVENT_STREAMS_MAX") as full:
            gate.take()
        assert full.value.retry_after_seconds == 1
    gate.release(first)
    gate.release(first)  # twice is harmless
    assert gate.open == 0


def test_closing_ends_every_holder_and_refuses_new_ones() -> None:
    gate = StreamGate(5)
    ended: list[str] = []
    held = gate.take()
    held.on_close(lambda: ended.append("held"))
    late = gate.take()
    gate.close()
    assert ended == ["held"]
    late.on_close(lambda: ended.append("late"))  # told at once: the gateway stops already
    assert ended == ["held", "late"]
    with pytest.raises(Unavailable, match="shutting down"):
        gate.take()


@pytest.mark.parametrize("wait", [0, 0.25, 30, 60])
def test_wait_within_its_range(wait: float) -> None:
    assert check_wait(wait, 60) == wait


@pytest.mark.parametrize("wait", [-1, -0.0001, 60.001, math.nan, math.inf, -math.inf, True,
                                  "5"])
def test_wait_out_of_its_range(wait: float) -> None:
    with pytest.raises(InvalidInput, match="wait: a number of seconds from 0 to 60") as bad:
        check_wait(wait, 60)
    assert bad.value.details[0]["loc"] == ["wait"]


def test_no_wait_is_no_waiting() -> None:
    assert check_wait(None, 60) is None
