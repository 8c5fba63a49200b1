"""Bad messages on the subscription socket (graphql-transport-ws): each closes the socket
with 4400 and a reason, as the protocol says, never a dropped connection or a traceback
in the log; the socket that sends only good messages keeps working."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.support.gateway_log import LogWatch
from tests.support.servers import Gateway

SUBSCRIBE_QUERY = 'subscription { jobUpdated(id: "no-such-job") { status } }'
FEED_QUERY = ("subscription($status: JobStatus, $function: String) { "
              "jobsUpdated(status: $status, function: $function) { id status } }")


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def subscribe(payload: object, id_: object = "1") -> str:
    return json.dumps({"type": "subscribe", "id": id_, "payload": payload})


# message (text, or bytes for a binary frame) -> words of the close reason
BAD_MESSAGES: dict[str, tuple[str | bytes, str]] = {
    "JSON list": ("[1, 2]", "a message must be a JSON object"),
    "JSON number": ("5", "a message must be a JSON object"),
    "not JSON": ("not json", "must be valid JSON"),
    "binary frame": (b"\x00\xff", "must be text"),
    "no type": (json.dumps({"id": "1"}), "a message needs a string 'type'"),
    "type not a string": (json.dumps({"type": ["subscribe"]}), "string 'type'"),
    "unknown type": (json.dumps({"type": "next", "id": "1"}), "Unknown message type"),
    "long unknown type": (json.dumps({"type": "é" * 300}), "Unknown message type"),
    "payload a list": (subscribe([1]), "'payload' must be an object"),
    "payload a string": (subscribe("query"), "'payload' must be an object"),
    "no payload": (json.dumps({"type": "subscribe", "id": "1"}), "needs a string 'query'"),
    "id not a string": (subscribe({"query": SUBSCRIBE_QUERY}, 5), "needs a string 'id'"),
    "id empty": (subscribe({"query": SUBSCRIBE_QUERY}, ""), "needs a string 'id'"),
    "query not a string": (subscribe({"query": 5}), "needs a string 'query'"),
    "variables a list": (subscribe({"query": SUBSCRIBE_QUERY, "variables": [1]}),
                         "'variables' must be an object"),
    "extensions a string": (subscribe({"query": SUBSCRIBE_QUERY, "extensions": "x"}),
                            "'extensions' must be an object"),
    "operationName an object": (subscribe({"query": SUBSCRIBE_QUERY, "operationName": {}}),
                                "'operationName' must be a string"),
    "complete without id": (json.dumps({"type": "complete"}), "needs a string 'id'"),
    "ping payload a list": (json.dumps({"type": "ping", "payload": [1]}),
                            "'payload' must be an object"),
    "variables nested 1000 deep": (
        '{"type": "subscribe", "id": "1", "payload": {"query": "x", "variables": {"a": '
        + deep(1000) + "}}}", "nested deeper than 64 levels"),
    "jobsUpdated, variables a list": (subscribe({"query": FEED_QUERY, "variables": [1]}),
                                      "'variables' must be an object"),
    "jobsUpdated, function nested 1000 deep": (
        json.dumps({"type": "subscribe", "id": "1", "payload": {"query": FEED_QUERY}})[:-2]
        + ', "variables": {"function": ' + deep(1000) + "}}}", "nested deeper than 64 levels"),
    "5000-digit integer": (
        '{"type": "subscribe", "id": "1", "payload": {"query": "x", "variables": {"a": '
        + "9" * 5000 + "}}}", "integer of more than 500 digits"),
}


async def initialised(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"type": "connection_init"}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"


async def close_of(ws: ClientConnection) -> tuple[int, str]:
    """The close frame the server sends (a dropped socket has none and fails here)."""
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(15):
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None, f"dropped without a close frame: {closed.value}"
    return closed.value.rcvd.code, closed.value.rcvd.reason


@pytest.mark.parametrize("case", list(BAD_MESSAGES))
async def test_bad_message_closes_with_4400(case: str, gateway: Gateway) -> None:
    message, words = BAD_MESSAGES[case]
    watch = LogWatch(gateway)
    url = gateway.url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await initialised(ws)
        await ws.send(message)
        code, reason = await close_of(ws)
    assert code == 4400 and words in reason, (code, reason)
    assert watch.errors() == []


async def test_bad_connection_init_closes_with_4400(gateway: Gateway) -> None:
    url = gateway.url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send('{"type": "connection_init", "payload": {"a": ' + deep(100) + "}}")
        assert (await close_of(ws))[0] == 4400


async def test_a_long_duplicate_id_closes_with_4409(gateway: Gateway) -> None:
    """Strawberry quotes the id in its reason: a long one is cut to fit a close frame."""
    watch = LogWatch(gateway)
    client = httpx.AsyncClient(base_url=gateway.url, timeout=10)
    r = await client.post("/producer/api/wait_and_return", json={"seconds": 20})
    job_id = r.json()["job_id"]  # a subscription to it stays open while it waits
    url = gateway.url.replace("http://", "ws://") + "/graphql"
    message = subscribe({"query": 'subscription($id: ID!) { jobUpdated(id: $id) { status } }',
                         "variables": {"id": job_id}}, "é" * 200)
    try:
        async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
            await initialised(ws)
            await ws.send(message)
            assert json.loads(await ws.recv())["type"] == "next"
            await ws.send(message)
            code, reason = await close_of(ws)
    finally:
        await client.delete(f"/producer/api/jobs/{job_id}")
        await client.aclose()
    assert code == 4409 and reason.startswith("Subscriber for éé") and reason.endswith("...")
    assert watch.errors() == []


async def test_good_messages_keep_the_socket(gateway: Gateway) -> None:
    """The checks refuse only what the protocol does not allow."""
    url = gateway.url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await initialised(ws)
        await ws.send(json.dumps({"type": "ping", "payload": {"x": 1}}))
        assert json.loads(await ws.recv())["type"] == "pong"
        await ws.send(json.dumps({"type": "subscribe", "id": "a", "payload": {
            "query": SUBSCRIBE_QUERY, "variables": None, "operationName": None,
            "extensions": {"x": [[1]]}}}))
        answers = [json.loads(await ws.recv()) for _ in range(2)]
        assert [a["type"] for a in answers] == ["next", "complete"]
        assert answers[0]["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        await ws.send(json.dumps({"type": "complete", "id": "a"}))
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv())["type"] == "pong"


# jobsUpdated's arguments, well-formed messages with bad values: each subscription ends with
# an error that says what was wrong, and the socket lives on.
BAD_FEED_ARGUMENTS: list[tuple[dict[str, object], str, str]] = [
    ({"function": "nope"}, "BAD_USER_INPUT", "unknown function 'nope'"),
    ({"function": "é" * 5000}, "BAD_USER_INPUT", "unknown function"),
    ({"function": 5}, "BAD_USER_INPUT", "String cannot represent a non string value"),
    ({"function": ["sum_to_n_job"]}, "BAD_USER_INPUT", "String cannot represent"),
    ({"status": "NOPE"}, "BAD_USER_INPUT", "Value 'NOPE' does not exist in 'JobStatus'"),
    ({"status": "succeeded"}, "BAD_USER_INPUT", "does not exist in 'JobStatus'"),
    ({"status": 3}, "BAD_USER_INPUT", "JobStatus"),
]


async def test_bad_jobs_updated_arguments_end_the_subscription_only(gateway: Gateway) -> None:
    watch = LogWatch(gateway)
    url = gateway.url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await initialised(ws)
        for n, (variables, code, words) in enumerate(BAD_FEED_ARGUMENTS):
            await ws.send(subscribe({"query": FEED_QUERY, "variables": variables}, f"s{n}"))
            answer = json.loads(await asyncio.wait_for(ws.recv(), 15))
            assert answer["id"] == f"s{n}", answer
            # A value the schema refuses is an `error` message; one the service refuses, a
            # `next` with errors (then `complete`).
            errors = answer["payload"] if answer["type"] == "error" else \
                answer["payload"]["errors"]
            assert errors[0]["extensions"]["code"] == code, (variables, answer)
            assert words in errors[0]["message"], (variables, answer)
            if answer["type"] == "next":
                assert json.loads(await ws.recv())["type"] == "complete"
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv())["type"] == "pong"
    assert watch.errors() == []
