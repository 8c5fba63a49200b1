"""The webhook dispatcher process (`python -m worker.dispatcher` runs `main`).

It claims due deliveries from Redis (a Lua script; several dispatchers on several machines
never claim one attempt twice), signs and POSTs each, and records the attempt: success,
a retry at a later due time (exponential schedule with jitter, Retry-After honoured), a
dead letter, or a disabled endpoint (410). Retries live in Redis sorted sets, never in
Celery countdowns. A pub/sub wake-up from the job transition makes a new delivery go out
within milliseconds; a short timer covers retries and a missed wake-up.

Isolation by destination (a registered endpoint, or a callback URL's origin): the claim
takes deliveries round robin across tenants and their destinations, and never more than
WEBHOOK_MAX_IN_FLIGHT_PER_DESTINATION in flight for one destination over all dispatchers
(tasks/webhooks/destinations.lua). A receiver that hangs holds that many of the
WEBHOOK_MAX_IN_FLIGHT slots, not all of them, and its backlog never queues in front of
another destination's due deliveries. Each recorded outcome frees a slot in Redis, so the
claim loop claims again after each write of outcomes.

Endpoint secrets come sealed (WEBHOOK_ENCRYPTION_KEY) and are opened at signing time,
through a bounded cache (tasks/webhooks/secret_box.py `SecretOpener`).

Flow control, in the same scripts: each outcome tells its destination's circuit breaker a
success, a failure (retry_policy.breaker_signal) or neither; WEBHOOK_BREAKER_FAILURES in a
row open it, and the claim then leaves its messages alone (no attempt charged) until one
probe goes out after the cool-down (tasks/webhooks/breaker.lua). The claim also keeps an
endpoint's `rate_limit` and WEBHOOK_TENANT_MAX_PER_SECOND, per second of Redis' clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tasks.logs import configure_logging
from tasks.redis.clients import Outage, async_client
from tasks.redis.keys import WAKE_CHANNEL
from tasks.settings import Settings, get_settings
from tasks.webhooks.model import DeliveryAttempt, delivery_body, endpoint_secrets
from tasks.webhooks.secret_box import SecretBox, SecretOpener, SecretUnreadable
from tasks.webhooks.ssrf import UrlPolicy
from tasks.webhooks.store import AttemptOutcome, ClaimedDelivery, WebhookStore
from worker.webhooks import tracing
from worker.webhooks.client import WebhookClient
from worker.webhooks.retry_policy import AttemptResult, Decision, breaker_signal, decide
from worker.webhooks.signing import signed_headers

log = logging.getLogger("worker.dispatcher")

CLAIM_BATCH = 256  # most deliveries taken in one claim
IDLE_POLL_SECONDS = 1.0  # longest sleep without a wake-up (retries, a missed wake-up)
LEASE_MARGIN_SECONDS = 30.0  # a claim's lease outlasts the request timeout by this much
SHUTDOWN_GRACE_SECONDS = 10.0  # in-flight attempts may finish this long after SIGTERM
INTERNAL_ERROR_RETRY_SECONDS = 60.0


class Dispatcher:
    def __init__(self, settings: Settings, client: aioredis.Redis) -> None:
        self.settings = settings
        self.redis = client
        box = SecretBox.from_settings(settings)
        self.store = WebhookStore(client, box)
        self.open_secret = SecretOpener(box)
        traces = tracing.trace_configs()  # none unless tracing is on
        self.traced = bool(traces)
        self.http = WebhookClient(UrlPolicy.from_settings(settings),
                                  settings.webhook_connect_timeout_seconds,
                                  settings.webhook_timeout_seconds,
                                  settings.webhook_max_in_flight, traces)
        self.schedule = settings.webhook_retry_delays
        self.callback_secrets = settings.webhook_signing_secrets
        self.max_in_flight = settings.webhook_max_in_flight
        self.per_destination = settings.webhook_max_in_flight_per_destination
        self.tenant_per_second = settings.webhook_tenant_max_per_second
        self.breaker = settings.webhook_breaker_policy
        # Claim again once this many slots are free: batches under load, at once when idle.
        self.claim_threshold = max(1, min(CLAIM_BATCH, self.max_in_flight // 4))
        self.lease_seconds = settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS
        # Deliveries live as long as their job record, and at least a day (transition.lua).
        self.dead_letter_retention = max(settings.job_ttl_seconds, 24 * 3600)
        self.rng = random.Random()
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self.in_flight: set[asyncio.Task[None]] = set()
        self.outcomes: list[AttemptOutcome] = []
        self.outcomes_ready = asyncio.Event()
        self.flush_lock = asyncio.Lock()
        self.sent = 0

    # --- the loops -------------------------------------------------------------------

    async def run(self) -> None:
        helpers = [asyncio.create_task(self._listen_for_wakeups()),
                   asyncio.create_task(self._record_outcomes())]
        try:
            await self._claim_loop()
            await self._drain()
            await self._flush()  # after any flush in progress: what is left, before exit
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self.http.close()

    async def _claim_loop(self) -> None:
        while not self.stopping.is_set():
            self.wake.clear()  # a wake-up during the claim below makes the wait return at once
            wait: float | None = IDLE_POLL_SECONDS
            free = self.max_in_flight - len(self.in_flight)
            if free >= self.claim_threshold:
                try:
                    wait, claimed = await self.store.claim(min(free, CLAIM_BATCH),
                                                           self.lease_seconds,
                                                           self.per_destination,
                                                           self.tenant_per_second)
                except RedisError as exc:
                    log.warning("claim failed (%s); retrying in 1 s", exc)
                    await self._sleep(1.0)
                    continue
                for delivery in claimed:
                    task = asyncio.create_task(self._deliver(delivery))
                    self.in_flight.add(task)
                    task.add_done_callback(self._finished)
                if len(claimed) == min(free, CLAIM_BATCH):
                    continue  # more may be due right now
            await self._sleep(IDLE_POLL_SECONDS if wait is None else min(wait, IDLE_POLL_SECONDS))

    async def _sleep(self, seconds: float) -> None:
        """Until a wake-up, a stop, or `seconds` pass."""
        wakers = [asyncio.ensure_future(self.wake.wait()),
                  asyncio.ensure_future(self.stopping.wait())]
        try:
            await asyncio.wait(wakers, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waker in wakers:
                waker.cancel()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        if self.max_in_flight - len(self.in_flight) == self.claim_threshold:
            self.wake.set()  # enough room for another batch

    async def _listen_for_wakeups(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(WAKE_CHANNEL)
                while True:
                    if await pubsub.get_message(timeout=IDLE_POLL_SECONDS) is not None:
                        self.wake.set()
            except RedisError as exc:
                log.warning("wake-up channel lost (%s); the timer still polls", exc)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(RedisError):
                    await pubsub.aclose()

    async def _record_outcomes(self) -> None:
        """Write attempt outcomes in batches: one script call for all that finished
        while the previous write was in flight."""
        while True:
            await self.outcomes_ready.wait()
            self.outcomes_ready.clear()
            await self._flush()

    async def _flush(self) -> None:
        async with self.flush_lock:  # one writer: shutdown waits for the recorder's write
            while self.outcomes:
                batch, self.outcomes = self.outcomes, []
                try:
                    await self.store.complete(batch, self.dead_letter_retention,
                                              self.breaker)
                    # Slots freed at their destinations (and retries due): claim again.
                    self.wake.set()
                except RedisError as exc:
                    # Keep them: the leases hold the deliveries until Redis is back.
                    log.warning("recording %d attempts failed (%s); retrying", len(batch), exc)
                    self.outcomes[:0] = batch
                    await asyncio.sleep(1.0)

    async def _drain(self) -> None:
        if self.in_flight:
            log.info("waiting for %d attempts in flight", len(self.in_flight))
            await asyncio.wait(set(self.in_flight), timeout=SHUTDOWN_GRACE_SECONDS)
        # What is still running is given up: its lease runs out and a dispatcher retries it.
        for task in list(self.in_flight):
            task.cancel()
        await asyncio.gather(*self.in_flight, return_exceptions=True)

    # --- one attempt -----------------------------------------------------------------

    async def _deliver(self, delivery: ClaimedDelivery) -> None:
        fields = delivery.fields
        try:
            number = int(fields["attempts"]) + 1
            now = time.time()
            body = delivery_body(fields)
            secrets = (endpoint_secrets(delivery.endpoint, now, self.open_secret)
                       if delivery.endpoint else self.callback_secrets)
            headers = signed_headers(delivery.id, body, secrets, now)
            with tracing.attempt(fields, number) if self.traced else contextlib.nullcontext():
                result = await self.http.post(fields["url"], body, headers)
            decision = decide(result, int(fields["round"]) + 1, self.schedule,
                              endpoint=bool(delivery.endpoint),
                              retry_after_max=self.settings.webhook_retry_after_max_seconds,
                              now=time.time(), rng=self.rng)
        except SecretUnreadable as exc:  # the operator's to fix (a key left out): retry
            log.error("delivery %s not sent: %s", delivery.id, exc)
            now, number = time.time(), int(fields.get("attempts", "0")) + 1
            result = AttemptResult(None, "secret_unreadable", 0.0, "", detail=str(exc))
            decision = Decision("retry", INTERNAL_ERROR_RETRY_SECONDS)
        except Exception as exc:  # a bug must not lose the delivery: log and retry later
            log.exception("attempt of delivery %s failed unexpectedly", delivery.id)
            now, number = time.time(), int(fields.get("attempts", "0")) + 1
            result = AttemptResult(None, "internal_error", 0.0, "", detail=repr(exc)[:200])
            decision = Decision("retry", INTERNAL_ERROR_RETRY_SECONDS)
        self.sent += 1
        attempt = DeliveryAttempt(number=number, at=now, duration_ms=result.duration_ms,
                                  status_code=result.status_code, error=result.error,
                                  response_body=result.response_body, detail=result.detail)
        self.outcomes.append(AttemptOutcome(delivery.id, delivery.token, decision.outcome,
                                            decision.delay, result.error, attempt,
                                            breaker_signal(result)))
        self.outcomes_ready.set()


# --- the process ---------------------------------------------------------------------


def _loop_factory() -> Any:
    try:
        import uvloop  # a faster event loop, when installed (uvicorn[standard] brings it)
    except ImportError:
        return None
    return uvloop.new_event_loop


async def serve(settings: Settings) -> None:
    client = async_client(settings, Outage.RETRY)
    dispatcher = Dispatcher(settings, client)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, dispatcher.stopping.set)
    log.info("webhook dispatcher ready (pid %s, up to %d in flight, %d per destination, "
             "retry schedule %s)", os.getpid(), dispatcher.max_in_flight,
             dispatcher.per_destination, settings.webhook_retry_schedule)
    try:
        await dispatcher.run()
    finally:
        await client.aclose()
        log.info("webhook dispatcher stopped after %d attempts", dispatcher.sent)


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)  # JSON lines, secrets masked, as everywhere
    tracing.install()  # when OTEL_* asks: each attempt a span of its job's trace
    if not settings.webhook_secret:
        log.warning("WEBHOOK_SECRET is not set: per-job callbacks are signed with the public "
                    "development secret; set one before anyone relies on the signatures")
    if settings.webhook_encryption_is_development:
        log.warning("WEBHOOK_ENCRYPTION_KEY is not set: endpoint secrets in Redis are "
                    "encrypted with the public development key")
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(serve(settings))


if __name__ == "__main__":
    main()
