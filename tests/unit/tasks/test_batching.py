"""The batcher (tasks/batching.py): order, bounds, errors, cancelled callers."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import RedisError

from tasks.batching import Batcher


async def test_batcher_answers_in_order_and_bounds_batches() -> None:
    sizes: list[int] = []

    async def double(items: list[int]) -> list[int]:
        sizes.append(len(items))
        await asyncio.sleep(0)
        return [2 * i for i in items]

    batcher = Batcher(double, max_size=4)
    assert await asyncio.gather(*(batcher(i) for i in range(10))) == [2 * i for i in range(10)]
    assert sizes == [4, 4, 2]
    assert await batcher(7) == 14  # a lone call goes through too


async def test_batcher_gives_every_caller_the_error() -> None:
    async def broken(items: list[int]) -> list[int]:
        raise RedisError("down")

    batcher = Batcher(broken, max_size=100)
    results = await asyncio.gather(*(batcher(i) for i in range(5)), return_exceptions=True)
    assert all(isinstance(r, RedisError) for r in results)
    with pytest.raises(RedisError):
        await batcher(1)


async def test_batcher_survives_a_cancelled_caller() -> None:
    release = asyncio.Event()

    async def slow(items: list[int]) -> list[int]:
        await release.wait()
        return items

    batcher = Batcher(slow, max_size=100)
    first = asyncio.ensure_future(batcher(1))
    second = asyncio.ensure_future(batcher(2))
    await asyncio.sleep(0.01)
    first.cancel()
    release.set()
    assert await second == 2
    assert first.cancelled()
