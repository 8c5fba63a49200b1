"""progress() (tasks/jobs/progress.py): its throttle and its checks."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import pytest

from tasks.jobs.functions import sum_to_n_job, wait_and_return
from tasks.jobs.progress import Reporter, progress, running

Written = list[tuple[float, float, str | None, bool]]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reporter(interval: float = 0.25) -> tuple[Reporter, Clock, Written]:
    """A reporter on a clock the test moves (by binary fractions: the sums are exact)."""
    clock, written = Clock(), []
    made = Reporter(lambda *report: written.append(report), interval, clock)
    return made, clock, written


def test_at_most_one_write_per_interval_after_the_first_interval() -> None:
    made, clock, written = reporter()
    with running(made):
        progress(1, 10)  # the job is younger than one interval: nothing yet
        clock.now += 0.25
        progress(2, 10)
        progress(3, 10, "three")  # within the interval since the last write
        clock.now += 0.125
        progress(4, 10)
        clock.now += 0.125
        progress(5, 10, "five")
    assert written == [(2, 10, None, False), (5, 10, "five", False)]


def test_the_final_report_is_written_at_once_unless_the_job_is_that_young() -> None:
    made, clock, written = reporter()
    with running(made):
        progress(10, 10)  # ended within its first interval: its end is its news
        clock.now += 0.25
        progress(9, 10)
        clock.now += 0.125
        progress(10, 10, "done")  # final: not held back by the last write
    assert written == [(9, 10, None, False), (10, 10, "done", True)]


def test_interval_zero_writes_every_report() -> None:
    made, _, written = reporter(0)
    with running(made):
        for done in range(4):
            progress(done, 3)
    assert [w[0] for w in written] == [0, 1, 2, 3] and written[-1][3] is True


def test_outside_a_job_it_checks_and_does_nothing() -> None:
    progress(1, 2, "fine")  # no job bound: nothing to write to, no error
    with pytest.raises(ValueError, match="more than total"):
        progress(3, 2)


def test_the_job_is_unbound_after_the_block() -> None:
    made, _, written = reporter(0)
    with running(made):
        progress(1, 2)
    progress(2, 2)
    assert len(written) == 1


@pytest.mark.parametrize(("done", "total", "message", "error", "says"), [
    (-1, 10, None, ValueError, "done must be from 0 to 2\\*\\*53, not -1"),
    (1, -1, None, ValueError, "total must be from 0"),
    (11, 10, None, ValueError, r"done \(11\) is more than total \(10\)"),
    (math.nan, 10, None, ValueError, "done must be from 0 .* not nan"),
    (1, math.inf, None, ValueError, "total must be from 0 .* not inf"),
    (1, 2**53 + 1, None, ValueError, "total must be from 0 to 2\\*\\*53"),
    ("1", 10, None, TypeError, "done must be a number, not str"),
    (1, None, None, TypeError, "total must be a number, not NoneType"),
    (True, 10, None, TypeError, "done must be a number, not bool"),
    (1, 10, 5, TypeError, "message must be a string or None, not int"),
    (1, 10, "x" * 201, ValueError, "message is 201 characters long, at most 200"),
])
def test_bad_reports_raise_a_clear_error(done: Any, total: Any, message: Any,
                                         error: type[Exception], says: str) -> None:
    made, _, written = reporter(0)
    with running(made), pytest.raises(error, match=says):
        progress(done, total, message)
    assert written == []


def test_other_real_numbers_are_taken_as_int_or_float() -> None:
    made, _, written = reporter(0)
    with running(made):
        progress(Fraction(1, 2), 1, "x" * 200)
        progress(0.0, 0)
    assert written[0][:2] == (0.5, 1) and type(written[0][0]) is float
    assert written[1] == (0.0, 0, None, True)


def test_the_shipped_functions_report_and_keep_their_results() -> None:
    made, _, written = reporter(0)
    with running(made):
        assert sum_to_n_job(2_500_000) == 2_500_000 * 2_500_001 // 2
        assert wait_and_return(0.3) == "Hello World!"
    sums = [w for w in written if w[1] == 2_500_000]
    assert [w[0] for w in sums] == [1_000_000, 2_000_000, 2_500_000]
    waits = [w[0] for w in written if w[1] == 0.3]
    assert waits == sorted(waits) and waits[-1] == 0.3 and len(waits) >= 2
