"""Async load clients: prefilling a queue through the gateway, and the fixed-rate
submit-to-SUCCEEDED latency runs (by polling, by the Redis job event, and by the GraphQL
subscription when the build has one). wrk does the closed-loop throughput runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis

from bench.procs import ROOT
from tasks.redis.keys import event_channel

SUBMIT_PATH = "/producer/api/sum"
SUBMIT_BODY = b'{"number": 1}'
JSON_HEADERS = {"content-type": "application/json"}
EVENT_PATTERN = event_channel("*")
BARE_RESULT_PREFIX = "celery-task-meta-"  # Celery's Redis result backend keys/channels
SUBSCRIPTION_SOCKETS = 8
FAST_POLLS = 20  # polls at the full rate before backing off


async def prefill(base_url: str, count: int, concurrency: int = 32) -> list[str]:
    """Submit `count` jobs through the gateway's REST route; their ids, in order."""
    ids: list[str] = [""] * count
    next_index = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url, connector=connector) as session:

        async def one_client() -> None:
            nonlocal next_index
            while next_index < count:
                i = next_index
                next_index += 1
                async with session.post(SUBMIT_PATH, data=SUBMIT_BODY,
                                        headers=JSON_HEADERS) as resp:
                    body = await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"submit answered {resp.status}: {body[:300]!r}")
                    ids[i] = orjson.loads(body)["job_id"]

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return ids


@dataclass
class LatencyRun:
    """Submit-to-SUCCEEDED-visible latencies (ms) of one fixed-rate run, per observer."""

    jobs: int
    rate: float
    poll_interval_ms: float
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"jobs": self.jobs, "rate": self.rate, "poll_interval_ms": self.poll_interval_ms,
                "latencies_ms": self.latencies_ms, "missing": self.missing,
                "notes": self.notes}


def merged(runs: list[LatencyRun]) -> LatencyRun:
    """Runs of one round watched different ways, as one run with all their observers."""
    out = LatencyRun(runs[0].jobs, runs[0].rate, runs[0].poll_interval_ms)
    for run in runs:
        out.latencies_ms.update(run.latencies_ms)
        out.missing.update(run.missing)
        out.notes.extend(run.notes)
    return out


def poll_delay(interval: float, polls_done: int) -> float:
    """Poll every `interval` for the first FAST_POLLS polls, then back off (doubling, at
    most 32 intervals): a job that waits in a backlog must not multiply the polls, or the
    polls themselves load the server and lengthen the backlog."""
    return interval * float(min(32, 2 ** max(0, (polls_done - FAST_POLLS) // 5)))


async def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


class _EventWatch:
    """Records when each job's SUCCEEDED event is published (Redis pub/sub)."""

    def __init__(self, client: aioredis.Redis, pattern: str, succeeded: bytes) -> None:
        self.client, self.pattern, self.succeeded = client, pattern, succeeded
        self.seen: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.pubsub = self.client.pubsub()
        await self.pubsub.psubscribe(self.pattern)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        prefix = len(self.pattern) - 1
        while True:
            msg = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if msg is None or msg["type"] != "pmessage":
                continue
            now = time.monotonic()
            if self.succeeded in msg["data"]:
                job_id = msg["channel"].decode()[prefix:]
                self.seen.setdefault(job_id, now)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.pubsub.aclose()


class _GraphQLWatch:
    """Subscribes `jobUpdated(id)` for each job over one graphql-transport-ws connection
    and records when SUCCEEDED arrives."""

    QUERY = "subscription ($id: ID!) { jobUpdated(id: $id) { id status } }"

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url
        self.seen: dict[str, float] = {}
        self.errors: list[str] = []

    async def start(self) -> None:
        self.ws = await self.session.ws_connect(self.url, protocols=("graphql-transport-ws",))
        await self.ws.send_json({"type": "connection_init", "payload": {}})
        ack = await self.ws.receive_json(timeout=10)
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        self._task = asyncio.create_task(self._read())

    async def subscribe(self, job_id: str) -> None:
        await self.ws.send_json({"id": job_id, "type": "subscribe", "payload": {
            "query": self.QUERY, "variables": {"id": job_id}}})

    async def _read(self) -> None:
        async for msg in self.ws:
            now = time.monotonic()
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data.get("type") == "next":
                job = ((data.get("payload") or {}).get("data") or {}).get("jobUpdated") or {}
                if job.get("status") == "SUCCEEDED":
                    self.seen.setdefault(data["id"], now)
            elif data.get("type") == "error" and len(self.errors) < 5:
                self.errors.append(json.dumps(data)[:300])
            elif data.get("type") == "ping":
                await self.ws.send_json({"type": "pong"})

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.ws.close()


async def ours_latency(base_url: str, redis_url: str, rate: float, jobs: int,
                       poll_interval: float, watch: str) -> LatencyRun:
    """Submit `jobs` at `rate`/s over REST; per job, the time from just before the POST
    until SUCCEEDED is visible, the way one client would watch it: `watch="poll"` polls
    GET /producer/api/sum/{id} every `poll_interval` (and records when the submit was
    answered and when the job's Redis event was published); `watch="subscription"` opens
    a GraphQL `jobUpdated` subscription instead. One run never does both: a client watches
    a job one way, and doing both at once doubles the harness's own load on 2 cores."""
    if watch not in ("poll", "subscription"):
        raise ValueError(f"watch must be poll or subscription, not {watch!r}")
    run = LatencyRun(jobs, rate, poll_interval * 1000)
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}
    polled: dict[str, float] = {}
    client = aioredis.Redis.from_url(redis_url)
    # The Redis event is recorded in the polling run only: the subscription run has no
    # use for it, and its reader would add to the client's load.
    events = _EventWatch(client, EVENT_PATTERN, b'"SUCCEEDED"') if watch == "poll" else None
    if events is not None:
        await events.start()
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(base_url, connector=connector) as session:
        sockets: list[_GraphQLWatch] = []
        if watch == "subscription":
            # Several sockets, as from several browser tabs: one socket's subscriptions
            # are capped (Strawberry's default, 100 per connection).
            sockets = [_GraphQLWatch(session, base_url + "/graphql")
                       for _ in range(SUBSCRIPTION_SOCKETS)]
            await asyncio.gather(*(s.start() for s in sockets))

        async def one_job(i: int) -> None:
            t0 = time.monotonic()
            async with session.post(SUBMIT_PATH, data=SUBMIT_BODY,
                                    headers=JSON_HEADERS) as resp:
                body = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"submit answered {resp.status}: {body[:300]!r}")
            job_id = orjson.loads(body)["job_id"]
            sent[job_id], answered[job_id] = t0, time.monotonic()
            if sockets:
                await sockets[i % len(sockets)].subscribe(job_id)
                return
            deadline = t0 + 30
            polls = 0
            while time.monotonic() < deadline:
                async with session.get(f"{SUBMIT_PATH}/{job_id}") as resp:
                    poll = await resp.read()
                if b'"ready":true' in poll:
                    polled[job_id] = time.monotonic()
                    return
                polls += 1
                await asyncio.sleep(poll_delay(poll_interval, polls))

        start = time.monotonic() + 0.2
        tasks = []
        for i in range(jobs):
            await _sleep_until(start + i / rate)
            tasks.append(asyncio.create_task(one_job(i)))
        results = await asyncio.gather(*tasks, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            run.notes.append(f"{len(failures)} jobs failed, first: {failures[0]!r}")
        await asyncio.sleep(0.5)  # late events and subscription messages
        observers: dict[str, dict[str, float]]
        if events is None:
            observers = {"graphql_subscription": {
                job: seen for s in sockets for job, seen in s.seen.items()}}
            for s in sockets:
                run.notes.extend(s.errors)
                await s.stop()
        else:
            observers = {"submit_answered": answered, "poll": polled, "event": events.seen}
            await events.stop()
    await client.aclose()
    _collect(run, sent, observers)
    return run


def _collect(run: LatencyRun, sent: dict[str, float],
             observers: dict[str, dict[str, float]]) -> None:
    for name, seen in observers.items():
        run.latencies_ms[name] = [(seen[i] - t0) * 1000 for i, t0 in sent.items() if i in seen]
        run.missing[name] = run.jobs - len(run.latencies_ms[name])


async def bare_latency(broker_url: str, rate: float, jobs: int,
                       poll_interval: float) -> LatencyRun:
    """Bare Celery's submit-to-result: a separate process publishes at `rate`/s
    (bench.bare_submit); here, per job, polling its result key every `poll_interval`
    and the result backend's pub/sub message."""
    run = LatencyRun(jobs, rate, poll_interval * 1000)
    ids = [str(uuid.uuid4()) for _ in range(jobs)]
    start = time.monotonic() + 1.5  # the submitter's imports
    submitter = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bare_submit", broker_url, str(rate), repr(start),
        cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert submitter.stdin is not None
    submitter.stdin.write(json.dumps(ids).encode())
    await submitter.stdin.drain()
    submitter.stdin.close()
    client = aioredis.Redis.from_url(broker_url)
    events = _EventWatch(client, BARE_RESULT_PREFIX + "*", b'"SUCCESS"')
    await events.start()
    polled: dict[str, float] = {}

    async def one_job(job_id: str) -> None:
        deadline = time.monotonic() + 30
        key = BARE_RESULT_PREFIX + job_id
        polls = 0
        while time.monotonic() < deadline:
            meta = await client.get(key)
            if meta is not None and b'"SUCCESS"' in meta:
                polled[job_id] = time.monotonic()
                return
            polls += 1
            await asyncio.sleep(poll_delay(poll_interval, polls))

    try:
        tasks = []
        for i, job_id in enumerate(ids):
            await _sleep_until(start + i / rate)
            tasks.append(asyncio.create_task(one_job(job_id)))
        await asyncio.gather(*tasks)
        out, err = await asyncio.wait_for(submitter.communicate(), 60)
    finally:
        if submitter.returncode is None:
            submitter.kill()
            await submitter.wait()
    if submitter.returncode != 0:
        raise RuntimeError(f"bare submitter failed: {err.decode()[-2000:]}")
    sent = {job_id: t0 for job_id, t0 in json.loads(out)}
    await asyncio.sleep(0.2)
    await events.stop()
    await client.aclose()
    _collect(run, sent, {"poll": polled, "event": events.seen})
    return run
