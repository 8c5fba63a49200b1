"""RabbitMQ as the broker: the generic Celery publish path, the job store still on Redis."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest

from tests.support.helpers import submit_sum, wait_for_status
from tests.support.launcher import Launcher
from tests.support.otlp import CONSUMER, SERVER, SpanSeen, otlp_env, wait_for_spans
from tests.support.servers import RedisServer

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
LONG = ".long"  # the long queue's name after the short one's


def rabbitmq_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1):
            return True
    except OSError:
        return False


pytestmark = [pytest.mark.rabbitmq, pytest.mark.skipif(
    not rabbitmq_answers(), reason="no RabbitMQ server on 127.0.0.1:5672")]


@pytest.fixture()
def queue(launch: Launcher) -> Iterator[str]:
    """A queue of our own, so other users of that RabbitMQ server are not disturbed."""
    name = f"gw-test-{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        launch.close()  # the gateway and worker first: a running worker would declare it again
        # Remove our queue from the shared server.
        from kombu import Connection

        with Connection(AMQP_URL, connect_timeout=3) as conn:
            for each in (name, name + LONG):
                conn.default_channel.queue_delete(each)


def test_jobs_run_over_rabbitmq(launch: Launcher, redis_server: RedisServer,
                                queue: str) -> None:
    # Both queues (tasks/queues.py): the sum goes to the short one, the wait to the long one.
    stack = launch.stack("amqp-worker", redis=redis_server, CELERY_BROKER_URL=AMQP_URL,
                         CELERY_QUEUE=queue, CELERY_LONG_QUEUE=queue + LONG)
    with stack.client() as client:
        job_id = submit_sum(client, 100)
        record = wait_for_status(client, job_id, timeout=30)
        assert record["status"] == "SUCCEEDED" and record["result"] == 5050
        r = client.post("/producer/api/wait_and_return", json={"seconds": 10})
        waiting = r.json()["job_id"]
        wait_for_status(client, waiting, {"STARTED"})
        assert client.delete(f"/producer/api/jobs/{waiting}").status_code == 200


def test_a_run_over_rabbitmq_continues_the_request_trace(
        launch: Launcher, redis_server: RedisServer, queue: str) -> None:
    collector = launch.receiver()
    stack = launch.stack("amqp-traced-worker", redis=redis_server, CELERY_BROKER_URL=AMQP_URL,
                         CELERY_QUEUE=queue, **otlp_env(collector))
    with stack.client() as client:
        job_id = submit_sum(client, 100)

    def of_job(spans: list[SpanSeen]) -> dict[int, SpanSeen]:
        return {s.kind: s for s in spans if any(e[1].get("job.id") == job_id for e in s.events)}

    found = of_job(wait_for_spans(collector, lambda spans: of_job(spans).keys() >= {
        SERVER, CONSUMER}))
    request, run = found[SERVER], found[CONSUMER]
    assert (run.trace_id, run.parent_id) == (request.trace_id, request.span_id)
