"""Lost workers' jobs handed back (tasks/jobs/worker_lost.lua, tasks/jobs/lost_workers.py)
and the fence on a worker run's own reports (tasks/jobs/transition.lua), against a real
Redis holding kombu's unacked hash and index as kombu's Redis transport writes them."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import redis

from gateway.services.publish import celery_message
from tasks.jobs.lost_workers import LostRun, LostWorkers
from tasks.jobs.record import JobStatus, as_text, new_record_fields
from tasks.jobs.store import JobStore
from tasks.redis.keys import (
    KOMBU_BINDING_PREFIX,
    KOMBU_SEP,
    KOMBU_UNACKED_INDEX_KEY,
    KOMBU_UNACKED_KEY,
    QUEUED_KEY,
    WORKER_JOBS_PREFIX,
    WORKER_RUNS_KEY,
    event_channel,
    job_index_key,
    job_key,
)

LOST_AFTER = 30.0
LOST_RUN = "lost@host/100.aaaa"
LIVE_RUN = "live@host/200.bbbb"


def started_job(client: redis.Redis, run: str, queue: str = "celery", exchange: str = "",
                routing_key: str | None = None, priority: int = 0,
                unacked: bool = True) -> tuple[str, dict[str, Any], str]:
    """A job STARTED on `run`, its message unacknowledged in kombu's hash as kombu writes
    it (Python's json of [message, exchange, routing key]); returns (id, message, tag)."""
    job_id = str(uuid.uuid4())
    message = json.loads(celery_message("wait_and_return", job_id, {"seconds": 1}, queue))
    message["properties"]["priority"] = priority
    tag = message["properties"]["delivery_tag"]
    client.hset(job_key(job_id), mapping=new_record_fields(
        job_id, "wait_and_return", b'{"seconds":1}', time.time(), None))
    outcome = JobStore(client).transition(job_id, JobStatus.STARTED, {
        "worker": run.partition("/")[0], "worker_run": run, "delivery_tag": tag},
        count_attempt=True)
    assert outcome.applied
    if unacked:
        client.hset(KOMBU_UNACKED_KEY, tag,
                    json.dumps([message, exchange, queue if routing_key is None else routing_key]))
        client.zadd(KOMBU_UNACKED_INDEX_KEY, {tag: time.time()})
    return job_id, message, tag


def silence(client: redis.Redis, run: str, seconds: float) -> None:
    """The run's last heartbeat was `seconds` ago."""
    client.zadd(WORKER_RUNS_KEY, {run: time.time() - seconds})


def test_a_lost_runs_job_goes_back_to_its_queue_once(sync_client: redis.Redis) -> None:
    client = sync_client
    job_id, message, tag = started_job(client, LOST_RUN)
    assert client.smembers(WORKER_JOBS_PREFIX + LOST_RUN) == {job_id.encode()}
    silence(client, LOST_RUN, LOST_AFTER + 1)
    events = client.pubsub()
    events.subscribe(event_channel(job_id))
    events.get_message(timeout=1)

    lost = LostWorkers(client, LOST_AFTER)
    assert lost.hand_back() == [LostRun(LOST_RUN, ((job_id, "wait_and_return"),))]

    # The message, byte for byte as kombu holds it but for a new delivery tag, is next in
    # its queue (RPUSH: consumers BRPOP), and no longer unacknowledged.
    [pushed] = [as_text(m) for m in client.lrange("celery", 0, -1)]
    new_tag = json.loads(pushed)["properties"]["delivery_tag"]
    assert new_tag != tag
    assert pushed == json.dumps(message).replace(tag, new_tag)
    assert not client.hexists(KOMBU_UNACKED_KEY, tag)
    assert client.zscore(KOMBU_UNACKED_INDEX_KEY, tag) is None
    # The record: QUEUED again with the reason, the attempt it used, a copy of the message
    # (for recover.lua), in the QUEUED listing; the change published.
    record = {as_text(k): as_text(v) for k, v in client.hgetall(job_key(job_id)).items()}
    assert record["status"] == "QUEUED" and record["attempts"] == "1"
    error = json.loads(record["error"])
    assert error["type"] == "WorkerLostError" and "lost@host" in error["message"]
    assert record["message"] == pushed and record["queue"] == "celery"
    assert record["worker_run"] == "lost:" + LOST_RUN and "delivery_tag" not in record
    assert client.zscore(QUEUED_KEY, job_id) is not None
    assert client.zscore(job_index_key("public", "QUEUED"), job_id) is not None
    assert client.zscore(job_index_key("public", "STARTED"), job_id) is None
    event = events.get_message(timeout=1)
    assert event is not None and b'"QUEUED"' in event["data"]
    # The run is forgotten: another worker's run of the script finds nothing.
    assert client.zscore(WORKER_RUNS_KEY, LOST_RUN) is None
    assert not client.exists(WORKER_JOBS_PREFIX + LOST_RUN)
    assert lost.hand_back() == [] and client.llen("celery") == 1
    assert JobStore(client).requeue_lost(older_than=0) == 0  # its message is in the queue


def test_the_lost_runs_late_reports_are_refused(sync_client: redis.Redis) -> None:
    client = sync_client
    store = JobStore(client)
    job_id, _, _ = started_job(client, LOST_RUN)
    silence(client, LOST_RUN, LOST_AFTER + 1)
    LostWorkers(client, LOST_AFTER).hand_back()
    # Handed back: the lost run (only slow, say) can no longer end it ...
    late = store.transition(job_id, JobStatus.SUCCEEDED, {"result": b"1"}, fence=LOST_RUN)
    assert not late.applied and late.previous is JobStatus.QUEUED
    # ... nor once the next run has taken it; that run's own reports apply.
    store.transition(job_id, JobStatus.STARTED, {"worker_run": LIVE_RUN, "delivery_tag": "t2"},
                     count_attempt=True)
    assert client.smembers(WORKER_JOBS_PREFIX + LIVE_RUN) == {job_id.encode()}
    assert not store.transition(job_id, JobStatus.FAILED, fence=LOST_RUN).applied
    done = store.transition(job_id, JobStatus.SUCCEEDED, {"result": b"2"}, fence=LIVE_RUN)
    assert done.applied and done.attempts == 2
    assert not client.exists(WORKER_JOBS_PREFIX + LIVE_RUN)
    assert not client.hexists(job_key(job_id), "worker_run")
    # A report on a job no run owns (its STARTED was never written) still applies.
    other, _, _ = started_job(client, LIVE_RUN)
    client.hdel(job_key(other), "worker_run")
    assert store.transition(other, JobStatus.SUCCEEDED, fence=LIVE_RUN).applied


def test_only_lost_runs_jobs_that_are_still_theirs_go_back(sync_client: redis.Redis) -> None:
    client = sync_client
    live_job, _, live_tag = started_job(client, LIVE_RUN)
    silence(client, LIVE_RUN, LOST_AFTER - 5)  # late, not lost
    gone, _, _ = started_job(client, LOST_RUN, unacked=False)  # its message is acknowledged
    moved, _, _ = started_job(client, LOST_RUN)
    JobStore(client).transition(moved, JobStatus.STARTED, {"worker_run": "other@host/3.c"})
    client.sadd(WORKER_JOBS_PREFIX + LOST_RUN, moved)  # as if a stale entry were left
    silence(client, LOST_RUN, LOST_AFTER + 1)

    assert LostWorkers(client, LOST_AFTER).hand_back() == [LostRun(LOST_RUN, ())]
    assert client.llen("celery") == 0
    assert client.hget(job_key(gone), "status") == b"STARTED"
    assert client.hget(job_key(moved), "worker_run") == b"other@host/3.c"
    assert client.hget(job_key(live_job), "status") == b"STARTED"
    assert client.hexists(KOMBU_UNACKED_KEY, live_tag)
    assert client.zscore(WORKER_RUNS_KEY, LIVE_RUN) is not None


def test_each_job_goes_back_to_its_own_queue(sync_client: redis.Redis) -> None:
    """A lost run's jobs of the short and the long queue (tasks/queues.py) each go back to
    the queue they came from, not to the default one."""
    client = sync_client
    short, _, _ = started_job(client, LOST_RUN, queue="celery")
    long, _, _ = started_job(client, LOST_RUN, queue="celery.long")
    silence(client, LOST_RUN, LOST_AFTER + 1)

    [run] = LostWorkers(client, LOST_AFTER).hand_back()
    assert sorted(run.jobs) == sorted([(short, "wait_and_return"), (long, "wait_and_return")])
    for queue, job_id in (("celery", short), ("celery.long", long)):
        [pushed] = client.lrange(queue, 0, -1)
        assert json.loads(pushed)["headers"]["id"] == job_id
        assert client.hget(job_key(job_id), "queue") == queue.encode()  # for recover.lua


def test_bound_exchanges_and_priorities_as_kombu_restores(sync_client: redis.Redis) -> None:
    client = sync_client
    client.sadd(KOMBU_BINDING_PREFIX + "jobs", KOMBU_SEP.join(["long", "", "long-queue"]),
                KOMBU_SEP.join(["short", "", "short-queue"]))
    bound, _, _ = started_job(client, LOST_RUN, queue="long-queue", exchange="jobs",
                              routing_key="long", priority=7)
    unbound, _, unbound_tag = started_job(client, LOST_RUN, exchange="nowhere")
    silence(client, LOST_RUN, LOST_AFTER + 1)

    [run] = LostWorkers(client, LOST_AFTER).hand_back()
    assert run.jobs == ((bound, "wait_and_return"),)
    assert client.llen("long-queue" + KOMBU_SEP + "6") == 1  # priority 7: kombu's step 6
    # A message it cannot place stays unacknowledged, for the visibility timeout.
    assert client.hexists(KOMBU_UNACKED_KEY, unbound_tag)
    assert client.hget(job_key(unbound), "status") == b"STARTED"


def test_a_value_not_as_kombu_writes_it_is_left_alone(sync_client: redis.Redis) -> None:
    client = sync_client
    job_id, message, tag = started_job(client, LOST_RUN)
    client.hset(KOMBU_UNACKED_KEY, tag, json.dumps([message, "", "celery"], indent=1))
    broken, _, broken_tag = started_job(client, LOST_RUN)
    client.hset(KOMBU_UNACKED_KEY, broken_tag, "not json")
    silence(client, LOST_RUN, LOST_AFTER + 1)
    assert LostWorkers(client, LOST_AFTER).hand_back() == [LostRun(LOST_RUN, ())]
    for left, left_tag in ((job_id, tag), (broken, broken_tag)):
        assert client.hget(job_key(left), "status") == b"STARTED"
        assert client.hexists(KOMBU_UNACKED_KEY, left_tag)
