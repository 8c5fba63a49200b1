"""Dead ends end to end, with a real Redis, Celery worker, gateway, dispatcher and receiver:
an attempt no retry can fix is dead-lettered at once, a transient failure keeps its retry
schedule, and a URL an older version stored as written (a numeric host) is sent to the
address it names.

The records are written as an older version left them (the gateway now refuses or
rewrites such URLs at submit), then ended by the worker's own terminal transition.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from tasks.jobs.record import JobStatus, new_record_fields
from tasks.jobs.store import JobStore
from tasks.redis.keys import job_key
from tests.support.launcher import Launcher, Stack
from tests.support.servers import free_port, wait_until
from tests.support.webhook_receiver import Receiver

API = "/producer/api"
RETRY_SECONDS = 30  # the second attempt of a transient failure: far later than the test


@pytest.fixture(scope="module")
def receiver(module_launch: Launcher) -> Receiver:
    return module_launch.receiver("127.0.0.3")


@pytest.fixture(scope="module")
def stack(module_launch: Launcher, receiver: Receiver) -> Stack:
    return module_launch.stack("dead-ends-worker", dispatcher=True,
                               WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
                               WEBHOOK_RETRY_SCHEDULE=f"0,{RETRY_SECONDS},60,120")


@pytest.fixture()
def client(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client() as c:
        yield c


def ended_job_as_older_version_stored_it(stack: Stack, callback_url: str) -> str:
    client: redis.Redis = stack.redis.client()
    job_id = str(uuid.uuid4())
    client.hset(job_key(job_id), mapping=new_record_fields(
        job_id, "sum_to_n_job", b'{"number": 1}', time.time(), callback_url))
    client.expire(job_key(job_id), 3600)
    assert JobStore(client).transition(job_id, JobStatus.SUCCEEDED, {"result": b"1"}).applied
    return job_id


def first_attempt_recorded(client: httpx.Client, job_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def recorded() -> bool:
        nonlocal found
        found = client.get(f"{API}/jobs/{job_id}/deliveries").json()
        return bool(found) and found[0]["attempt_count"] >= 1 and found[0]["status"] != "SENDING"

    wait_until(recorded, 30, f"the first attempt of {job_id}'s webhook")
    [delivery] = found
    return delivery


def test_unsendable_url_dead_letters_at_once_transient_failure_retries(
    stack: Stack, client: httpx.Client, receiver: Receiver,
) -> None:
    # Never sendable: before, this was retried as a protocol error for about 8 hours.
    never = ended_job_as_older_version_stored_it(stack, f"http://999.1.1.1:{receiver.port}/x")
    # Nothing listens there (yet): a receiver that is down may come back.
    down = ended_job_as_older_version_stored_it(stack, f"http://127.0.0.1:{free_port()}/down")

    dead = first_attempt_recorded(client, never)
    assert dead["status"] == "DEAD_LETTERED" and dead["attempt_count"] == 1, dead
    [attempt] = dead["attempts"]
    assert attempt["error"] == "invalid_url" and attempt["status_code"] is None
    assert "not a valid IPv4 address" in attempt["detail"]
    assert dead["last_error"] == "invalid_url"

    waiting = first_attempt_recorded(client, down)
    assert waiting["status"] == "PENDING" and waiting["attempt_count"] == 1, waiting
    assert waiting["attempts"][0]["error"] == "connect_error"
    assert waiting["next_attempt_at"] is not None  # the schedule goes on


def test_numeric_host_stored_as_written_is_sent_to_its_address(
    stack: Stack, client: httpx.Client, receiver: Receiver,
) -> None:
    """2130706435 is 127.0.0.3: the client would refuse the decimal form ("not a canonical
    IPv4 address"); the dispatcher sends to the canonical URL instead."""
    job_id = ended_job_as_older_version_stored_it(
        stack, f"http://2130706435:{receiver.port}/legacy")
    [request] = receiver.wait_count("/legacy", 1)
    delivered = first_attempt_recorded(client, job_id)
    assert delivered["status"] == "SUCCEEDED" and request.webhook_id == delivered["id"]
