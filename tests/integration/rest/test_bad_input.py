"""Every bad-input class answers 4xx with a readable message, and nothing is enqueued."""

from __future__ import annotations

import time

import httpx
import pytest

from tasks.redis.keys import endpoints_key, tenant_index_key
from tests.support.gateway_log import LogWatch
from tests.support.servers import Gateway, RedisServer

JOB_INDEX = tenant_index_key("public")
WEBHOOKS = endpoints_key("public")


def counts(redis_server: RedisServer) -> int:
    """Jobs ever accepted: every submit adds its record, index entry and message in one
    atomic Lua call, so an unchanged index means nothing was enqueued."""
    return int(redis_server.client().zcard(JOB_INDEX))


BAD_SUM_BODIES = [
    ({"number": "ten"}, "number"),
    ({"number": "10"}, "number"),
    ({"number": 1.5}, "number"),
    ({"number": True}, "number"),
    ({"number": None}, "number"),
    ({"number": -1}, "greater than or equal to 0"),
    ({"number": 50_000_001}, "less than or equal to 50000000"),
    ({"number": 10**30}, "number"),
    ({}, "number: Field required"),
    ({"number": 5, "extra": 1}, "extra"),
    ([1, 2], "body"),
    ("a string", "body"),
    ({"number": 5, "callback_url": "ftp://example.com/x"}, "callback_url"),
    ({"number": 5, "callback_url": "not a url"}, "callback_url"),
    ({"number": 5, "callback_url": "http://:99999/"}, "callback_url"),
    ({"number": 5, "callback_url": 42}, "callback_url"),
]


@pytest.mark.parametrize(("body", "mentions"), BAD_SUM_BODIES)
def test_bad_sum_body(client: httpx.Client, redis_server: RedisServer, body: object,
                      mentions: str) -> None:
    before = counts(redis_server)
    r = client.post("/producer/api/sum", json=body)
    assert r.status_code == 422, r.text
    payload = r.json()
    assert payload["error"] == "BAD_USER_INPUT"
    assert mentions in payload["message"]
    assert counts(redis_server) == before


BAD_WAIT_BODIES = [
    {"seconds": -1},
    {"seconds": 31},  # the tests run with WAIT_MAX_SECONDS=30
    {"seconds": "5"},
    {"seconds": False},
    {"seconds": 1, "number": 3},
]


@pytest.mark.parametrize("body", BAD_WAIT_BODIES)
def test_bad_wait_body(client: httpx.Client, redis_server: RedisServer, body: object) -> None:
    before = counts(redis_server)
    r = client.post("/producer/api/wait_and_return", json=body)
    assert r.status_code == 422, r.text
    assert "seconds" in r.json()["message"] or "number" in r.json()["message"]
    assert counts(redis_server) == before


@pytest.mark.parametrize("raw", [b"{", b'{"number": 1', b"\xff\xfe", b"nul\x00l", b"NaN"])
def test_malformed_json(client: httpx.Client, redis_server: RedisServer, raw: bytes) -> None:
    before = counts(redis_server)
    r = client.post("/producer/api/sum", content=raw,
                    headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert "JSON" in r.json()["message"] or "body" in r.json()["message"]
    assert counts(redis_server) == before


def test_nan_seconds_rejected(client: httpx.Client) -> None:
    r = client.post("/producer/api/wait_and_return", content=b'{"seconds": NaN}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_oversize_body_413(client: httpx.Client, redis_server: RedisServer) -> None:
    before = counts(redis_server)
    big = b'{"number": 5, "pad": "' + b"x" * 70_000 + b'"}'
    r = client.post("/producer/api/sum", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "larger than" in r.json()["message"]

    def chunks():  # no Content-Length: the limit must hold on a streamed body too
        yield b'{"number": 5, "pad": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    r = client.post("/producer/api/sum", content=chunks(),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert counts(redis_server) == before


def test_callback_url_too_long(client: httpx.Client) -> None:
    r = client.post("/producer/api/sum",
                    json={"number": 1, "callback_url": "https://e.com/" + "a" * 3000})
    assert r.status_code == 422
    assert "callback_url" in r.json()["message"]


def test_bodiless_get_bad_callback(client: httpx.Client, redis_server: RedisServer) -> None:
    before = counts(redis_server)
    r = client.get("/producer/api/wait_and_return", params={"callback_url": "gopher://x"})
    assert r.status_code == 422
    assert counts(redis_server) == before


@pytest.mark.parametrize(("body", "mentions"), [
    ({"function": "nope", "input": {}}, "unknown function"),
    ({"function": "sum_to_n_job", "input": {"number": -5}}, "number"),
    ({"function": "sum_to_n_job", "input": [1]}, "input"),
    ({"function": 7, "input": {}}, "function"),
    ({"input": {}}, "function"),
])
def test_generic_submit_bad_input(client: httpx.Client, redis_server: RedisServer,
                                  body: object, mentions: str) -> None:
    before = counts(redis_server)
    r = client.post("/producer/api/jobs", json=body)
    assert r.status_code == 422, r.text
    assert mentions in r.json()["message"]
    assert counts(redis_server) == before


def test_wrong_method_is_json_405(client: httpx.Client) -> None:
    r = client.put("/producer/api/sum")
    assert r.status_code == 405
    assert r.json()["error"] == "METHOD_NOT_ALLOWED"


# JSON out of the decoder's bounds (gateway/services/json_input.py) on every route with a body: the
# express lane's /sum, FastAPI's /jobs, /wait_and_return and /webhooks.
def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


OUT_OF_BOUNDS = {
    "nested 1000 deep": ('{"number": ' + deep(1000) + "}", "nested deeper than 64 levels"),
    "nested 3000 deep, unclosed": ('{"number": ' + "[" * 3000, "nested deeper than 64 levels"),
    "input nested 100 deep": ('{"function": "sum_to_n_job", "input": {"number": '
                              + deep(100) + "}}", "nested deeper than 64 levels"),
    "5000-digit integer": ('{"number": ' + "9" * 5000 + "}",
                           "integer of more than 500 digits"),
    "not UTF-8": (b'{"number": 5, "callback_url": "http://h/\xff"}',
                  "not UTF-8 (byte 0xff at position 40)"),
    "latin-1 text": ('{"function": "é"}'.encode("latin-1"), "not UTF-8"),
}
BODY_ROUTES = ["/producer/api/sum", "/producer/api/jobs", "/producer/api/wait_and_return",
               "/producer/api/webhooks"]


@pytest.mark.parametrize("route", BODY_ROUTES)
@pytest.mark.parametrize("case", list(OUT_OF_BOUNDS))
def test_json_out_of_bounds(client: httpx.Client, gateway: Gateway, redis_server: RedisServer,
                            route: str, case: str) -> None:
    body, message = OUT_OF_BOUNDS[case]
    watch = LogWatch(gateway)
    before = counts(redis_server), redis_server.client().scard(WEBHOOKS)
    r = client.post(route, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "BAD_USER_INPUT"
    assert message in r.json()["message"]
    assert r.json()["detail"][0]["loc"] == ["body"]
    assert (counts(redis_server), redis_server.client().scard(WEBHOOKS)) == before
    assert watch.errors() == []


def test_the_limits_hold_at_their_edge(client: httpx.Client) -> None:
    """64 levels and 500 digits are still read: the refusal is past them, not before."""
    at_edge = '{"function": "sum_to_n_job", "input": {"number": 1, "x": ' + deep(62) + "}}"
    r = client.post("/producer/api/jobs", content=at_edge,
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and "x: Extra inputs are not permitted" in r.json()["message"]
    r = client.post("/producer/api/sum", content='{"number": ' + "9" * 500 + "}",
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and "less than or equal" in r.json()["message"]


# Long polling's `wait` (gateway/services/live.py): a number of seconds from 0 to
# LONG_POLL_MAX_SECONDS (60 here), on each of the three poll routes; checked before the job
# is looked up, so any id shows it.
BAD_WAITS = [("abc", "valid number"), ("", "valid number"), ("1,5", "valid number"),
             ("0x10", "valid number"), ("-1", "from 0 to 60"), ("60.5", "from 0 to 60"),
             ("1e9", "from 0 to 60"), ("nan", "from 0 to 60"), ("inf", "from 0 to 60"),
             ("-inf", "from 0 to 60"), ("9" * 400, "from 0 to 60")]
POLL_ROUTES = ["/producer/api/sum", "/producer/api/wait_and_return", "/producer/api/jobs"]


@pytest.mark.parametrize("route", POLL_ROUTES)
@pytest.mark.parametrize(("wait", "mentions"), BAD_WAITS)
def test_bad_wait_of_a_poll(client: httpx.Client, gateway: Gateway, route: str, wait: str,
                            mentions: str) -> None:
    watch = LogWatch(gateway)
    job_id = "00000000-0000-4000-8000-000000000000"
    started = time.monotonic()
    r = client.get(f"{route}/{job_id}", params={"wait": wait})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "BAD_USER_INPUT"
    assert "wait" in r.json()["message"] and mentions in r.json()["message"], r.text
    assert time.monotonic() - started < 5  # refused, not waited on
    assert watch.errors() == []


@pytest.mark.parametrize("job_id", ["not-a-job", "x" * 2000, "%00", "..", "é"])
def test_events_of_a_bad_id_are_404(client: httpx.Client, job_id: str) -> None:
    r = client.get(f"/producer/api/jobs/{job_id}/events")
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "NOT_FOUND"
    assert r.headers["content-type"] == "application/json"
