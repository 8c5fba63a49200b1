"""Notice the gateway's shutdown signal as soon as it arrives.

uvicorn handles SIGTERM and SIGINT itself: it stops accepting, then waits for every open
response before it runs the app's lifespan shutdown, so the lifespan hears of it too late
for responses that only end by themselves (event streams, long polls). This puts a handler
in front of uvicorn's that schedules `callback` on the event loop and passes the signal
on, unchanged.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_shutdown_signal(callback: Callable[[], None]) -> Callable[[], None]:
    """Run `callback` on the running loop at SIGTERM or SIGINT, then let the handler that
    was installed (uvicorn's) handle the signal. Returns what puts that handler back. Only
    the main thread can install handlers: elsewhere (an app run inside a test client) this
    does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)
        before = previous[signum]
        if callable(before):
            before(signum, frame)
        else:  # the default action (or none): as if this handler had never been there
            signal.signal(signum, before)
            signal.raise_signal(signum)

    for signum in SIGNALS:
        previous[signum] = signal.signal(signum, handler)

    def restore() -> None:
        for signum, before in previous.items():
            if signal.getsignal(signum) is handler:
                signal.signal(signum, before)

    return restore
