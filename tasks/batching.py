"""Coalescing concurrent calls into one Redis round trip.

Under load many requests reach the same store call in the same event-loop turn. A
`Batcher` collects them and makes one call for all (a Lua script or a pipeline), then
answers each caller: one command for the client library to pack and parse instead of
one per request, which is most of the cost of a small Redis call in redis-py. A lone
call waits for nothing but the end of the current loop turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    def __init__(self, run: Callable[[list[T]], Awaitable[list[R]]], max_size: int) -> None:
        """`run(items)` answers every item, in order; `max_size` bounds one call."""
        self._run = run
        self._max_size = max_size
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, answer))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await answer

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), self._max_size):
            task = asyncio.ensure_future(self._call(pending[start:start + self._max_size]))
            self._running.add(task)  # keep a reference until it is done
            task.add_done_callback(self._running.discard)

    async def _call(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
        except Exception as exc:  # every caller of the batch gets the error
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
        except BaseException:  # cancelled (shutdown): so are the callers
            for _, answer in batch:
                answer.cancel()
            raise
        else:
            for (_, answer), result in zip(batch, results, strict=True):
                if not answer.done():  # a caller may have been cancelled meanwhile
                    answer.set_result(result)
