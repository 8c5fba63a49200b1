"""A webhook receiver that counts the requests it holds at once: aiohttp on its own event
loop in a thread, on loopback. While held it never answers, like a receiver that hangs:
a request ends only when its client gives up and closes the connection (aiohttp then
cancels the handler), so `max_in_flight` is the most attempts a dispatcher had open at
once. Released, it answers 200 at once; requests already hanging stay hung until their
client gives up, so each message's one 200 comes from an attempt made after the release.
Stopped, it ends what it still holds with a 503 (a server's shutdown waits for handlers)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass

import orjson
from aiohttp import web

from tests.support.servers import free_port, wait_until


@dataclass(frozen=True)
class Arrival:
    webhook_id: str
    job_id: str
    at: float


class CountingReceiver:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, free_port()
        self._lock = threading.Lock()
        self._held = False
        self._closing = asyncio.Event()  # set by stop(): held requests end
        self.arrivals: list[Arrival] = []
        self.answered: Counter[str] = Counter()  # webhook-id -> 200s sent
        self.in_flight = 0
        self.max_in_flight = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def start(self) -> CountingReceiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        return self

    def stop(self) -> None:
        # Held requests end first (503), so that the server's shutdown need not wait for them.
        self._loop.call_soon_threadsafe(self._closing.set)
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def hold(self) -> None:
        self._held = True

    def release(self) -> None:
        self._held = False

    def snapshot(self) -> list[Arrival]:
        with self._lock:
            return list(self.arrivals)

    def wait_in_flight(self, count: int, timeout: float = 30) -> None:
        wait_until(lambda: self.in_flight >= count, timeout,
                   f"{count} requests held at {self.url()}", interval=0.02)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._hook)
        # handler_cancellation: a client that closes its connection ends the request here.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        webhook_id = request.headers.get("webhook-id", "")
        job_id = orjson.loads(body)["data"]["id"]
        with self._lock:
            self.arrivals.append(Arrival(webhook_id, job_id, time.time()))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self._held:
                await self._closing.wait()  # until the client gives up, or stop()
                return web.Response(status=503, text="stopping")
            with self._lock:
                self.answered[webhook_id] += 1
            return web.Response(text="ok")
        finally:
            with self._lock:
                self.in_flight -= 1
