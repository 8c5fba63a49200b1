"""A bare webhook receiver for the benchmark: `python -m bench.webhook_receiver_server PORT`.

aiohttp on uvloop, one process, answers every POST 200 at once. It counts what arrives
(first and last arrival time) and, on /latency, notes when each job's webhook arrived.
GET /stats returns that as JSON; POST /reset clears it.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import orjson
import uvloop
from aiohttp import web

State = dict[str, Any]


def fresh() -> State:
    return {"count": 0, "first": None, "last": None, "arrivals": {}}


async def hook(request: web.Request) -> web.Response:
    body = await request.read()
    now = time.time()
    state: State = request.app["state"]
    state["count"] += 1
    state["first"] = state["first"] or now
    state["last"] = now
    if request.path == "/latency":
        state["arrivals"][orjson.loads(body)["data"]["id"]] = now
    return web.Response(body=b"ok")


async def stats(request: web.Request) -> web.Response:
    return web.Response(body=orjson.dumps(request.app["state"]),
                        content_type="application/json")


async def reset(request: web.Request) -> web.Response:
    request.app["state"] = fresh()
    return web.Response(body=b"ok")


def main(port: int) -> None:
    app = web.Application()
    app["state"] = fresh()
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    app.router.add_post("/{tail:.*}", hook)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main(int(sys.argv[1]))
