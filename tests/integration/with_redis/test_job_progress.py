"""Progress reports in the job store (tasks/jobs/progress.lua) against a real Redis: written
and published only while the job is STARTED, a new run starts without one, and the
job.progress webhooks: only to endpoints that name the event, throttled per job."""

from __future__ import annotations

import time
import uuid

import orjson
import redis

from tasks.jobs.record import JobStatus, new_record_fields, progress_json, record_from_event
from tasks.jobs.store import JobStore
from tasks.redis.keys import delivery_key, endpoint_key, event_channel, job_key
from tasks.webhooks.model import DeliveryStatus, render_body
from tasks.webhooks.store import WebhookStore
from tests.support.webhook_store import add_endpoint

HOUR_MS = 3_600_000


def new_job(client: redis.Redis, callback: str | None = None) -> str:
    job_id = str(uuid.uuid4())
    client.hset(job_key(job_id), mapping=new_record_fields(
        job_id, "sum_to_n_job", b'{"number": 10}', time.time(), callback))
    client.expire(job_key(job_id), 3600)
    return job_id


def report(jobs: JobStore, job_id: str, done: int, total: int = 10,
           webhook_interval_ms: int = HOUR_MS) -> bool:
    return jobs.write_progress(job_id, progress_json(done, total, f"{done} of {total}",
                                                     time.time()),
                               done == total, webhook_interval_ms)


def test_progress_is_written_and_published_only_while_started(
        sync_client: redis.Redis) -> None:
    jobs = JobStore(sync_client)
    job_id = new_job(sync_client)
    pubsub = sync_client.pubsub()
    pubsub.subscribe(event_channel(job_id))
    pubsub.get_message(timeout=1)

    missing = str(uuid.uuid4())
    assert not report(jobs, missing, 1)
    assert not sync_client.exists(job_key(missing))  # never re-creates a record
    assert not report(jobs, job_id, 1)  # QUEUED: not running yet
    jobs.transition(job_id, JobStatus.STARTED, count_attempt=True)
    assert report(jobs, job_id, 3) and report(jobs, job_id, 7)
    record = jobs.get(job_id)
    assert record is not None and record.progress is not None
    assert (record.progress.done, record.progress.total, record.progress.seq) == (7, 10, 2)
    assert record.progress.message == "7 of 10" and record.progress.fraction == 0.7
    public = record.to_public()["progress"]
    assert public["done"] == 7 and public["fraction"] == 0.7 and public["updated_at"]

    jobs.transition(job_id, JobStatus.SUCCEEDED, {"result": b"55"})
    assert not report(jobs, job_id, 10)  # after the end: refused, nothing changes
    ended = jobs.get(job_id)
    assert ended is not None and ended.progress == record.progress  # the last one stays

    events = []
    while (msg := pubsub.get_message(timeout=1)) is not None:
        if msg["type"] == "message":
            event = record_from_event(msg["data"])
            events.append((event.status, event.progress.done if event.progress else None))
    # Each report is the whole record on the job's channel, as a transition is.
    assert events == [(JobStatus.STARTED, None), (JobStatus.STARTED, 3),
                      (JobStatus.STARTED, 7), (JobStatus.SUCCEEDED, 7)]


def test_a_new_run_starts_without_the_last_runs_progress(sync_client: redis.Redis) -> None:
    jobs = JobStore(sync_client)
    job_id = new_job(sync_client)
    jobs.transition(job_id, JobStatus.STARTED, count_attempt=True)
    assert report(jobs, job_id, 5)
    jobs.transition(job_id, JobStatus.RETRYING)
    assert not report(jobs, job_id, 6)  # waiting for its retry: not running
    jobs.transition(job_id, JobStatus.STARTED, count_attempt=True)
    record = jobs.get(job_id)
    assert record is not None and record.attempts == 2 and record.progress is None
    assert report(jobs, job_id, 1)
    again = jobs.get(job_id)
    assert again is not None and again.progress is not None
    assert again.progress.seq == 2  # numbers go on across runs: they name messages


async def test_progress_webhooks_go_to_endpoints_that_name_the_event(
        store: WebhookStore, sync_client: redis.Redis) -> None:
    named, _ = await add_endpoint(store, "public", "https://progress.example/",
                                  ("job.progress", "job.succeeded"))
    every, _ = await add_endpoint(store, "public", "https://every.example/")
    disabled, _ = await add_endpoint(store, "public", "https://off.example/", ("job.progress",))
    sync_client.hset(endpoint_key(disabled.id), "enabled", "0")
    other_tenant, _ = await add_endpoint(store, "acme", "https://acme.example/",
                                         ("job.progress",))
    jobs = JobStore(sync_client)
    job_id = new_job(sync_client, callback="https://callback.example/")
    jobs.transition(job_id, JobStatus.STARTED, count_attempt=True)

    assert report(jobs, job_id, 2)  # the first report makes one
    assert report(jobs, job_id, 4) and report(jobs, job_id, 6)  # within the interval: none
    assert report(jobs, job_id, 10)  # the final report makes one regardless
    progress = await store.job_deliveries(job_id)
    assert [(d.endpoint_id, d.event, d.status) for d in progress] == [
        (named.id, "job.progress", DeliveryStatus.PENDING)] * 2
    assert len({d.id for d in progress}) == 2
    # Each message carries the record as it was at its report, stamped with the report.
    bodies = [orjson.loads(render_body("job.progress", snapshot(sync_client, d.id)))
              for d in progress]
    assert [b["data"]["progress"]["done"] for b in bodies] == [2, 10]
    assert all(b["type"] == "job.progress" and b["data"]["status"] == "STARTED"
               and b["timestamp"] == b["data"]["progress"]["updated_at"] for b in bodies)

    jobs.transition(job_id, JobStatus.SUCCEEDED, {"result": b"55"})
    ended = await store.job_deliveries(job_id)
    succeeded = {(d.endpoint_id, d.event) for d in ended if d.event == "job.succeeded"}
    # The end goes where it always went: the callback, "every event" and the named one.
    assert succeeded == {(None, "job.succeeded"), (every.id, "job.succeeded"),
                         (named.id, "job.succeeded")}
    assert disabled.id not in {d.endpoint_id for d in ended}
    assert other_tenant.id not in {d.endpoint_id for d in ended}


async def test_progress_webhooks_are_throttled_per_job(
        store: WebhookStore, sync_client: redis.Redis) -> None:
    """The interval is kept in each job's record: two jobs do not share it. With an
    interval of 0 every written report makes a message."""
    await add_endpoint(store, "public", "https://progress.example/", ("job.progress",))
    jobs = JobStore(sync_client)
    first, second = new_job(sync_client), new_job(sync_client)
    for job_id in (first, second):
        jobs.transition(job_id, JobStatus.STARTED, count_attempt=True)
    assert report(jobs, first, 1) and report(jobs, second, 1)
    assert report(jobs, first, 2) and report(jobs, second, 2)  # within an hour: none
    assert report(jobs, first, 3, webhook_interval_ms=0)
    assert report(jobs, first, 4, webhook_interval_ms=0)
    counts = [len(await store.job_deliveries(job_id)) for job_id in (first, second)]
    assert counts == [3, 1]


def snapshot(client: redis.Redis, delivery_id: str) -> bytes:
    job = client.hget(delivery_key(delivery_id), "job")
    assert isinstance(job, bytes)
    return job
