"""RabbitMQ as the broker: the generic Celery publish path, the job store still on Redis."""

from __future__ import annotations

import socket
import uuid

import pytest

from tests.support.helpers import submit_sum, wait_for_status
from tests.support.launcher import Launcher
from tests.support.servers import RedisServer

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


def rabbitmq_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.rabbitmq
@pytest.mark.skipif(not rabbitmq_answers(), reason="no RabbitMQ server on 127.0.0.1:5672")
def test_jobs_run_over_rabbitmq(launch: Launcher, redis_server: RedisServer) -> None:
    # A queue of our own, so other users of that RabbitMQ server are not disturbed.
    queue = f"gw-test-{uuid.uuid4().hex[:12]}"
    stack = launch.stack("amqp-worker", redis=redis_server, CELERY_BROKER_URL=AMQP_URL,
                         CELERY_QUEUE=queue)
    try:
        with stack.client() as client:
            job_id = submit_sum(client, 100)
            record = wait_for_status(client, job_id, timeout=30)
            assert record["status"] == "SUCCEEDED" and record["result"] == 5050
            r = client.post("/producer/api/wait_and_return", json={"seconds": 10})
            waiting = r.json()["job_id"]
            wait_for_status(client, waiting, {"STARTED"})
            assert client.delete(f"/producer/api/jobs/{waiting}").status_code == 200
    finally:
        launch.close()  # the gateway and worker first: a running worker would declare it again
        # Remove our queue from the shared server.
        from kombu import Connection

        with Connection(AMQP_URL, connect_timeout=3) as conn:
            conn.default_channel.queue_delete(queue)
