"""The requests that stay open for a job's events (Server-Sent Events streams and waiting
long polls): at most EVENT_STREAMS_MAX at once in one gateway process, and each ended when
the process shuts down.

uvicorn stops accepting, then waits for every open response before the app's lifespan
ends, so a stream that only ended by itself would hold a stopping gateway until it was
killed. `close()` runs on the shutdown signal (gateway/shutdown.py) and tells every holder
at once: a stream ends, a long poll answers with the state it has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gateway.services.errors import TooManyStreams, Unavailable


class Slot:
    """One open stream or long poll; `on_close` is what ends it when the gateway stops."""

    def __init__(self) -> None:
        self._on_close: Callable[[], None] | None = None
        self.closed = False

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the gateway stops (at once, if it is stopping already)."""
        self._on_close = callback
        if self.closed:
            callback()

    def close(self) -> None:
        self.closed = True
        if self._on_close is not None:
            self._on_close()


class StreamGate:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.closing = False
        self._slots: set[Slot] = set()

    @property
    def open(self) -> int:
        return len(self._slots)

    def take(self) -> Slot:
        """A slot, to be given back with `release`; TooManyStreams when all are taken."""
        if self.closing:
            raise Unavailable("the gateway is shutting down; retry")
        if len(self._slots) >= self.limit:
            raise TooManyStreams(
                f"this gateway process already holds {len(self._slots)} event streams and "
                f"long polls, the most EVENT_STREAMS_MAX allows; retry shortly")
        slot = Slot()
        self._slots.add(slot)
        return slot

    def release(self, slot: Slot) -> None:
        self._slots.discard(slot)

    @contextmanager
    def slot(self) -> Iterator[Slot]:
        slot = self.take()
        try:
            yield slot
        finally:
            self.release(slot)

    def close(self) -> None:
        """The gateway is stopping: end every open stream and long poll, refuse new ones."""
        self.closing = True
        for slot in list(self._slots):
            slot.close()
