"""The bare-client ceiling: `python -m bench.webhook_bare_client aiohttp|httpx N COUNT URL`
POSTs COUNT signed-sized webhook bodies to URL with N requests in flight on one pooled
client, nothing else (no Redis, no signing per request), and prints requests/second."""

from __future__ import annotations

import asyncio
import sys
import time

import aiohttp
import httpx
import uvloop

BODY = b'{"type":"job.succeeded","timestamp":"2026-01-01T00:00:00+00:00","data":{"id":"x"}}'
HEADERS = {"content-type": "application/json", "webhook-id": "msg_bench",
           "webhook-timestamp": "1767225600", "webhook-signature": "v1," + "A" * 44}


async def with_aiohttp(in_flight: int, count: int, url: str) -> float:
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector) as session:
        return await drive(in_flight, count, lambda: _aiohttp_post(session, url))


async def _aiohttp_post(session: aiohttp.ClientSession, url: str) -> None:
    async with session.post(url, data=BODY, headers=HEADERS) as response:
        await response.read()
        assert response.status == 200


async def with_httpx(in_flight: int, count: int, url: str) -> float:
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(limits=limits) as client:
        async def post() -> None:
            response = await client.post(url, content=BODY, headers=HEADERS)
            assert response.status_code == 200
        return await drive(in_flight, count, post)


async def drive(in_flight: int, count: int, post: object) -> float:
    remaining = count
    assert callable(post)

    async def lane() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await post()

    start = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(in_flight)))
    return count / (time.perf_counter() - start)


def main(kind: str, in_flight: int, count: int, url: str) -> None:
    run = with_aiohttp if kind == "aiohttp" else with_httpx
    uvloop.install()
    print(f"{asyncio.run(run(in_flight, count, url)):.1f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
