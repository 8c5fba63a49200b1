"""The worker's writes to kombu's unacked set are sent without waiting for Redis's answer
(worker/jobs/pipelined_acks.py): a delivered message is in kombu's unacked hash and index,
an acked one leaves them, a closing channel settles its writes before it restores the
messages not acked (from the entries written here), and a write whose connection broke is
made again kombu's own way. Every worker test runs through it too."""

from __future__ import annotations

import pytest
import redis
from kombu import Connection

from tests.support.servers import RedisServer
from worker.jobs import pipelined_acks

QUEUE = "pipelined-acks-probe"


@pytest.fixture()
def client(sync_client: redis.Redis) -> redis.Redis:
    pipelined_acks.install()
    return sync_client


def _unacked(client: redis.Redis) -> tuple[int, int]:
    return int(client.hlen("unacked")), int(client.zcard("unacked_index"))


def test_acked_messages_leave_the_unacked_set(own_redis: RedisServer,
                                              client: redis.Redis) -> None:
    with Connection(own_redis.url) as conn:
        queue = conn.SimpleQueue(QUEUE)
        for n in range(3):
            queue.put({"n": n})
        messages = [queue.get(timeout=5) for _ in range(3)]
        pipelined_acks.ACKS.settle()
        assert _unacked(client) == (3, 3)
        for message in messages:
            message.ack()
        pipelined_acks.ACKS.settle()
        assert _unacked(client) == (0, 0)
        queue.close()


def test_closing_settles_acks_then_restores_the_rest(own_redis: RedisServer,
                                                     client: redis.Redis) -> None:
    with Connection(own_redis.url) as conn:
        queue = conn.SimpleQueue(QUEUE)
        queue.put({"n": "acked"})
        queue.put({"n": "held"})
        acked, _held = queue.get(timeout=5), queue.get(timeout=5)
        acked.ack()  # sent, its answer not read
        queue.close()
    assert _unacked(client) == (0, 0)
    # Only the message not acked went back to the queue.
    with Connection(own_redis.url) as conn:
        queue = conn.SimpleQueue(QUEUE)
        assert queue.get(timeout=5).payload == {"n": "held"}
        assert client.llen(QUEUE) == 0
        queue.close()


def test_a_message_rejected_at_once_goes_back_to_its_queue(own_redis: RedisServer,
                                                            client: redis.Redis) -> None:
    """A reject with requeue restores the message from its unacked entry, which was only
    sent: the reject waits for it (as a pool process lost while running its job)."""
    with Connection(own_redis.url) as conn:
        queue = conn.SimpleQueue(QUEUE)
        queue.put({"n": "again"})
        queue.get(timeout=5).reject(requeue=True)
        assert _unacked(client) == (0, 0)
        assert queue.get(timeout=5).payload == {"n": "again"}
        queue.close()


def test_writes_on_a_broken_connection_go_kombus_way(
        own_redis: RedisServer, client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    redone: list[int] = []
    redo = pipelined_acks.PipelinedAcks._redo

    def counted_redo(self: pipelined_acks.PipelinedAcks) -> None:
        redone.append(len(self._unconfirmed))
        redo(self)

    def kill_the_writes_connection() -> None:
        """The server drops the connection the writes go on (kombu's stay)."""
        host, port = pipelined_acks.ACKS._connection._sock.getsockname()[:2]
        assert client.client_kill_filter(addr=f"{host}:{port}") == 1

    monkeypatch.setattr(pipelined_acks.PipelinedAcks, "_redo", counted_redo)
    with Connection(own_redis.url) as conn:
        queue = conn.SimpleQueue(QUEUE)
        for n in range(2):
            queue.put({"n": n})
        first = queue.get(timeout=5)
        pipelined_acks.ACKS.settle()
        kill_the_writes_connection()
        second = queue.get(timeout=5)  # its entry's send or reply fails: redone
        pipelined_acks.ACKS.settle()
        assert redone == [1]
        assert _unacked(client) == (2, 2)
        first.ack()
        pipelined_acks.ACKS.settle()
        kill_the_writes_connection()
        second.ack()  # its send or its reply fails: kombu's blocking ack instead
        pipelined_acks.ACKS.settle()
        assert redone == [1, 1]
        assert _unacked(client) == (0, 0)
        queue.close()
