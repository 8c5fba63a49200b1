"""Progress from inside a job: `progress(done, total, message=None)`, one call a job
function makes as it goes (exported by the catalog).

The worker binds the running job to the calling context (`running`, from its task_prerun
and task_postrun hooks: worker/jobs/hooks.py). A context variable is per thread (and per
greenlet), so it holds in every Celery pool. A report is written (tasks/jobs/progress.lua)
once PROGRESS_INTERVAL_MS has passed since the job started or since the last write; the
final one (done == total) is written at once, unless the job is younger than one interval.
So a call in between costs a clock read and two compares, and a job that ends within one
interval (most jobs) writes nothing: its end is its news.

Outside a job (a function called as plain Python: a test, a REPL) a call checks its
arguments and does nothing, so job functions stay ordinary functions.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

MAX_MESSAGE_LENGTH = 200
MAX_AMOUNT = 2**53  # exact as a JSON number in every client (a double)

# Writes one report: (done, total, message, final). The worker's writer never raises:
# progress is advisory, a report that cannot be written must not fail the job.
Write = Callable[[float, float, str | None, bool], None]


class Reporter:
    """The throttle of one running job's reports."""

    __slots__ = ("_clock", "_first_at", "_interval", "_next_at", "_write")

    def __init__(self, write: Write, interval_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._write = write
        self._interval = interval_seconds
        self._clock = clock
        self._first_at = self._next_at = clock() + interval_seconds

    def report(self, done: float, total: float, message: str | None) -> None:
        now = self._clock()
        if now < self._next_at and (done != total or now < self._first_at):
            return
        self._next_at = now + self._interval
        self._write(done, total, message, done == total)


_RUNNING: ContextVar[Reporter | None] = ContextVar("job_progress", default=None)


@contextmanager
def running(reporter: Reporter) -> Iterator[None]:
    """Bind `reporter` to this context for a block (tests; the worker uses bind/unbind)."""
    bind(reporter)
    try:
        yield
    finally:
        unbind()


def bind(reporter: Reporter) -> None:
    _RUNNING.set(reporter)


def unbind() -> None:
    _RUNNING.set(None)


def progress(done: float, total: float, message: str | None = None) -> None:
    """Report that `done` of `total` units of work are done, with an optional `message`
    (at most 200 characters). Numbers are ints or floats, 0 <= done <= total <= 2**53;
    anything else raises TypeError or ValueError (the job then fails with it, as with any
    exception). Throttled: call it as often as you like."""
    done, total = _amount("done", done), _amount("total", total)
    if not done <= total:
        raise ValueError(f"progress(done, total): done ({done!r}) is more than total "
                         f"({total!r})")
    if message is not None and not isinstance(message, str):
        raise TypeError(f"progress(): message must be a string or None, not "
                        f"{type(message).__name__}")
    if message is not None and len(message) > MAX_MESSAGE_LENGTH:
        raise ValueError(f"progress(): message is {len(message)} characters long, at most "
                         f"{MAX_MESSAGE_LENGTH} are allowed")
    reporter = _RUNNING.get()
    if reporter is not None:
        reporter.report(done, total, message)


def _amount(name: str, value: float) -> float:
    kind = type(value)
    if kind is not int and kind is not float:  # the usual case costs one type check
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"progress(done, total): {name} must be a number, not "
                            f"{kind.__name__}")
        value = int(value) if isinstance(value, numbers.Integral) else float(value)
    if not 0 <= value <= MAX_AMOUNT:  # also NaN and infinity
        raise ValueError(f"progress(done, total): {name} must be from 0 to 2**53, "
                         f"not {value!r}")
    return value
