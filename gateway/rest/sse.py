"""Server-Sent Events of one job (GET /producer/api/jobs/{id}/events): its record first, then
each change, each as one `data:` line holding the same JSON as GET /producer/api/jobs/{id};
a comment line whenever the stream has been idle for EVENT_STREAM_KEEPALIVE_SECONDS (so that
no proxy cuts it as dead). It ends after the final status, when the client leaves, or when
the gateway stops (a client that saw no final status then opens it again); an error on the
way (Redis lost) is one `event: error` with the error's JSON, then the end.
`X-Accel-Buffering: no` has NGINX pass each event on at once."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from fastapi.sse import format_sse_event
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.rest.models import JobOut
from gateway.services.errors import GatewayError
from gateway.services.live import JobEvents
from tasks.jobs.record import JobRecord

KEEPALIVE = format_sse_event(comment="keep-alive")


def record_event(record: JobRecord) -> bytes:
    return format_sse_event(data_str=JobOut.of(record).model_dump_json())


def error_event(error: GatewayError) -> bytes:
    return format_sse_event(event="error", data_str=orjson.dumps(
        {"error": error.code, "message": error.message}).decode())


MEDIA_TYPE = "text/event-stream"
# The route's 200 in OpenAPI (3.2's way for a stream: a schema per event).
OPENAPI_200: dict[str, Any] = {"content": {MEDIA_TYPE: {"itemSchema": {
    "type": "object", "required": ["data"], "properties": {
        "data": {"type": "string", "contentMediaType": "application/json",
                 "contentSchema": {"$ref": "#/components/schemas/JobOut"}},
        "event": {"type": "string", "description": "`error` for an error; else none"}}}}}}


class JobEventStream(Response):
    # No class media type: FastAPI would then document the route's error answers (JSON) as
    # event streams too. The header says it.
    media_type = None

    def __init__(self, events: JobEvents, keepalive_seconds: float) -> None:
        # Not Response.__init__: it would declare an empty body (content-length: 0).
        self.status_code = 200
        self.background = None
        self.init_headers({"Content-Type": f"{MEDIA_TYPE}; charset=utf-8",
                           "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.events = events
        self.keepalive = keepalive_seconds
        self._lock = asyncio.Lock()  # one event at a time: records and keep-alives
        self._last_write = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            if await self._stream(receive, send):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client left while an event was being written
        finally:
            await self.events.aclose()

    async def _stream(self, receive: Receive, send: Send) -> bool:
        """Until the records end, the gateway stops or the client leaves; True unless the
        client left (its answer then needs no end)."""
        await self._write(send, record_event(self.events.first))
        if self.events.first.status.is_terminal:
            return True
        stopping = asyncio.Event()
        self.events.slot.on_close(stopping.set)
        records = asyncio.create_task(self._records(send))
        left = asyncio.create_task(_departure(receive))
        tasks = {records, left, asyncio.create_task(stopping.wait()),
                 asyncio.create_task(self._keepalives(send))}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        return left not in done

    async def _write(self, send: Send, chunk: bytes) -> None:
        async with self._lock:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            self._last_write = asyncio.get_running_loop().time()

    async def _records(self, send: Send) -> None:
        try:
            async for record in self.events.rest:
                await self._write(send, record_event(record))
        except GatewayError as exc:  # Redis lost, or the job expired while followed
            await self._write(send, error_event(exc))

    async def _keepalives(self, send: Send) -> None:
        loop = asyncio.get_running_loop()
        while True:
            idle = loop.time() - self._last_write
            if idle >= self.keepalive:
                await self._write(send, KEEPALIVE)
            else:
                await asyncio.sleep(self.keepalive - idle)


async def _departure(receive: Receive) -> None:
    with contextlib.suppress(OSError):
        while (await receive())["type"] != "http.disconnect":
            pass
