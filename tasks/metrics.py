"""Metrics kept in Redis, so that they add up over processes: shown by the gateway.

Workers (prefork children, in other containers) and the webhook dispatcher cannot share a
prometheus-client registry with the gateway, so they count in Redis hashes, one per metric
(HINCRBY / HINCRBYFLOAT: atomic, one pipelined round trip per event). The gateway's
/metrics reads the hashes at scrape time and renders them as Prometheus counters and
histograms (`families()`). Counts survive worker restarts and add up over any number of
workers. The gateway processes count their own in memory and add them here about once a
second (`totals()` of their local families; gateway/services/metrics_flush.py), so the
gateway's counts too are the same through any of its processes.

Counting an event, from any process with a Redis client:

    from tasks import metrics
    metrics.record(client, metrics.WEBHOOK_ATTEMPTS.inc("delivered"),
                   metrics.WEBHOOK_DELIVERY_SECONDS.observe(1.8))
    await metrics.record_async(aclient, metrics.WEBHOOK_ATTEMPTS.inc("retry"))

A new metric is one more RedisCounter / RedisHistogram below, added to SHARED_METRICS.
Label values must come from a small fixed set (function names, statuses, outcomes).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from prometheus_client.core import (
    CounterMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from redis.exceptions import RedisError

from tasks.jobs.store import CounterUpdate
from tasks.redis.keys import METRICS_PREFIX

log = logging.getLogger("tasks.metrics")

_SEP = "|"
INF = math.inf

# One Redis command of an update: (command, key, field, amount).
Command = CounterUpdate


def _field(labelvalues: Sequence[str], suffix: str | None = None) -> str:
    parts = [str(v).replace(_SEP, "_") for v in labelvalues]
    if suffix is not None:
        parts.append(suffix)
    return _SEP.join(parts) or "_"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _le(bound: float) -> str:
    return "+Inf" if bound == INF else repr(float(bound))


@dataclass(frozen=True, slots=True)
class RedisCounter:
    name: str  # exposed as <name>_total
    documentation: str
    labels: tuple[str, ...]

    @property
    def key(self) -> str:
        return METRICS_PREFIX + self.name

    def inc(self, *labelvalues: str, amount: int = 1) -> list[Command]:
        if len(labelvalues) != len(self.labels):
            raise ValueError(f"{self.name} takes labels {self.labels}")
        return [("hincrby", self.key, _field(labelvalues), amount)]

    def totals(self, local: Metric) -> list[Command]:
        """A prometheus-client counter family of the same labels, as the counts it holds."""
        return [("hincrby", self.key, _field([sample.labels[n] for n in self.labels]),
                 int(sample.value))
                for sample in local.samples if sample.name == self.name + "_total"]

    def family(self, fields: dict[Any, Any]) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=list(self.labels))
        for raw_field, raw_value in sorted(fields.items()):
            field = _text(raw_field)
            values = [] if field == "_" else field.split(_SEP)
            if len(values) == len(self.labels):
                family.add_metric(values, float(_text(raw_value)))
        return family


@dataclass(frozen=True, slots=True)
class RedisHistogram:
    name: str
    documentation: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...]  # upper bounds, ascending; +Inf is added

    @property
    def key(self) -> str:
        return METRICS_PREFIX + self.name

    @property
    def bounds(self) -> tuple[float, ...]:
        return self.buckets if self.buckets[-1] == INF else (*self.buckets, INF)

    def observe(self, value: float, *labelvalues: str) -> list[Command]:
        if len(labelvalues) != len(self.labels):
            raise ValueError(f"{self.name} takes labels {self.labels}")
        bound = next(b for b in self.bounds if value <= b)
        # The bucket count is stored per bucket (not cumulated): one HINCRBY per event.
        return [("hincrby", self.key, _field(labelvalues, "le=" + _le(bound)), 1),
                ("hincrbyfloat", self.key, _field(labelvalues, "sum"), float(value))]

    def totals(self, local: Metric) -> list[Command]:
        """A prometheus-client histogram family of the same labels and buckets, as its
        counts per bucket (it holds them cumulated) and sums."""
        out: list[Command] = []
        below: dict[str, float] = {}  # per series, the cumulated count of the bucket below
        for sample in local.samples:
            values = [sample.labels[n] for n in self.labels]
            series = _field(values)
            if sample.name == self.name + "_bucket":
                le = _le(float(sample.labels["le"]))
                out.append(("hincrby", self.key, _field(values, "le=" + le),
                            int(sample.value - below.get(series, 0.0))))
                below[series] = sample.value
            elif sample.name == self.name + "_sum":
                out.append(("hincrbyfloat", self.key, _field(values, "sum"), sample.value))
        return out

    def family(self, fields: dict[Any, Any]) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation,
                                       labels=list(self.labels))
        series: dict[tuple[str, ...], dict[str, float]] = {}
        for raw_field, raw_value in fields.items():
            *labelvalues, suffix = _text(raw_field).split(_SEP)
            if len(labelvalues) == len(self.labels):
                series.setdefault(tuple(labelvalues), {})[suffix] = float(_text(raw_value))
        for values, counts in sorted(series.items()):
            cumulative, buckets = 0.0, []
            for bound in self.bounds:
                cumulative += counts.get("le=" + _le(bound), 0.0)
                buckets.append((_le(bound), cumulative))
            family.add_metric(list(values), buckets, counts.get("sum", 0.0))
        return family


JOBS_FINISHED = RedisCounter(
    "gateway_jobs_finished", "Jobs that reached a final status, by function and status.",
    ("function", "status"))
JOB_RUN_SECONDS = RedisHistogram(
    "gateway_job_run_seconds", "Time a job function ran in a worker, by function.",
    ("function",), (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
# Counted by the worker heartbeat that hands a lost worker's running jobs back to their
# queue (worker/jobs/heartbeat.py).
JOBS_RECOVERED = RedisCounter(
    "gateway_jobs_recovered",
    "Running jobs of lost workers handed back to their queue, by function.", ("function",))
# For the webhook dispatcher. outcome: delivered (2xx), retry (failed, will be retried),
# dead (failed for the last time), refused (the address is not allowed).
WEBHOOK_ATTEMPTS = RedisCounter(
    "gateway_webhook_attempts", "Webhook delivery attempts, by outcome.", ("outcome",))
# From the job event to the receiver's 2xx, retries included.
WEBHOOK_DELIVERY_SECONDS = RedisHistogram(
    "gateway_webhook_delivery_seconds",
    "Time from a job event to its webhook's successful delivery.",
    (), (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600))

# Counted by the Lua scripts that move a destination's circuit breaker
# (tasks/webhooks/breaker.lua), into tasks.redis.keys.BREAKER_TRANSITIONS_METRIC_KEY.
# to: open, half_open, closed, gave_up (a registered endpoint disabled).
WEBHOOK_BREAKER_TRANSITIONS = RedisCounter(
    "gateway_webhook_breaker_transitions",
    "Transitions of webhook destinations' circuit breakers, by the state entered.", ("to",))

# The gateway processes' own, counted in memory by each (gateway/services/metrics.py).
GATEWAY_JOBS_SUBMITTED = RedisCounter(
    "gateway_jobs_submitted", "Jobs accepted, by function.", ("function",))
GATEWAY_HTTP_REQUESTS = RedisCounter(
    "gateway_http_requests", "HTTP requests, by method and status.", ("method", "status"))
GATEWAY_HTTP_SECONDS = RedisHistogram(
    "gateway_http_request_duration_seconds", "Time to answer an HTTP request.", (),
    (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
# What share of the hot routes takes the fast path; the rest (invalid input, another
# content type, a cross-origin call) is answered by the FastAPI app, at more CPU a request.
GATEWAY_EXPRESS_LANE_REQUESTS = RedisCounter(
    "gateway_express_lane_requests",
    "Requests the express lane answered past FastAPI's routing, by route (submit, poll, "
    "graphql).", ("route",))
# Persisted queries (gateway/graphql/persisted.py): a hash answered (hit), a hash unknown
# (not_found: the client sends the document next), a document registered (registered).
GATEWAY_PERSISTED_QUERIES = RedisCounter(
    "gateway_graphql_persisted_queries",
    "GraphQL requests by persisted-query hash, by outcome (hit, not_found, registered).",
    ("outcome",))

SHARED_METRICS: tuple[RedisCounter | RedisHistogram, ...] = (
    JOBS_FINISHED, JOB_RUN_SECONDS, WEBHOOK_ATTEMPTS, WEBHOOK_DELIVERY_SECONDS,
    WEBHOOK_BREAKER_TRANSITIONS, JOBS_RECOVERED, GATEWAY_JOBS_SUBMITTED, GATEWAY_HTTP_REQUESTS,
    GATEWAY_HTTP_SECONDS, GATEWAY_EXPRESS_LANE_REQUESTS, GATEWAY_PERSISTED_QUERIES,
)


def _queue(pipe: Any, updates: Sequence[list[Command]]) -> None:
    for update in updates:
        for command, key, field, amount in update:
            getattr(pipe, command)(key, field, amount)


def record(client: redis.Redis, *updates: list[Command]) -> None:
    """Apply the updates in one round trip. Metrics never break the caller: a Redis error
    is logged and the counts are lost."""
    try:
        pipe = client.pipeline(transaction=False)
        _queue(pipe, updates)
        pipe.execute()
    except RedisError as exc:
        log.warning("metrics not recorded: %s", exc)


async def record_async(client: aioredis.Redis, *updates: list[Command]) -> None:
    try:
        pipe = client.pipeline(transaction=False)
        _queue(pipe, updates)
        await pipe.execute()
    except RedisError as exc:
        log.warning("metrics not recorded: %s", exc)


def families(snapshot: Sequence[dict[Any, Any]]) -> Iterator[Metric]:
    """The Prometheus families of SHARED_METRICS from their hashes (HGETALL of each `key`,
    in SHARED_METRICS order)."""
    for metric, fields in zip(SHARED_METRICS, snapshot, strict=True):
        yield metric.family(fields)
