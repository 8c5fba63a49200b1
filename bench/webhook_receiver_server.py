"""A bare webhook receiver for the benchmark: `python -m bench.webhook_receiver_server PORT`.

aiohttp on uvloop, one process, answers every POST 200 at once. It counts what arrives
(first and last arrival time) and, on /latency, notes when each job's webhook arrived.
GET /stats returns that as JSON; POST /reset clears it. POST /hold makes it hang like a
broken receiver: requests get no answer until POST /release answers them all (or their
client gives up and closes, which ends the request here too); it counts the requests open
at once (`max_in_flight`, the most since the last reset) and the distinct webhook-ids it
answered (`answered`).
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import orjson
import uvloop
from aiohttp import web

State = dict[str, Any]


def fresh() -> State:
    return {"count": 0, "first": None, "last": None, "arrivals": {}, "in_flight": 0,
            "max_in_flight": 0, "answered": 0}


async def hook(request: web.Request) -> web.Response:
    body = await request.read()
    now = time.time()
    state: State = request.app["state"]
    state["count"] += 1
    state["first"] = state["first"] or now
    state["last"] = now
    if request.path == "/latency":
        state["arrivals"][orjson.loads(body)["data"]["id"]] = now
    released: asyncio.Event | None = request.app["released"]
    if released is not None:
        state["in_flight"] += 1
        state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])
        try:
            await released.wait()
        finally:
            state["in_flight"] -= 1
    answered: set[str] = request.app["answered"]
    answered.add(request.headers.get("webhook-id", ""))
    state["answered"] = len(answered)
    return web.Response(body=b"ok")


async def stats(request: web.Request) -> web.Response:
    return web.Response(body=orjson.dumps(request.app["state"]),
                        content_type="application/json")


async def reset(request: web.Request) -> web.Response:
    request.app["state"] = fresh()
    request.app["answered"] = set()
    return web.Response(body=b"ok")


async def hold(request: web.Request) -> web.Response:
    request.app["released"] = request.app["released"] or asyncio.Event()
    return web.Response(body=b"ok")


async def release(request: web.Request) -> web.Response:
    released, request.app["released"] = request.app["released"], None
    if released is not None:
        released.set()
    return web.Response(body=b"ok")


def main(port: int) -> None:
    app = web.Application()
    app["state"] = fresh()
    app["answered"] = set()
    app["released"] = None  # an Event while held
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    app.router.add_post("/hold", hold)
    app.router.add_post("/release", release)
    app.router.add_post("/{tail:.*}", hook)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None,
                handler_cancellation=True)  # a client that gives up ends its request


if __name__ == "__main__":
    main(int(sys.argv[1]))
