"""Schemathesis against the gateway's own schemas: every REST route of the OpenAPI
document (generated valid and invalid requests; no 5xx, and every response matches its
documented schema), and every GraphQL query and mutation (no HTTP 500, no unmasked error).
Then hostile bytes on every face, the kinds that once got a 500: JSON nested far too
deep, integers of thousands of digits, bytes that are not UTF-8, with and without an API
key, as REST and GraphQL bodies, GraphQL GET parameters and WebSocket messages. Each
answers 4xx (a WebSocket closes with a close frame), queues nothing, and no run leaves an
error-level line in the gateway's log.

`make test` runs a bounded number of examples per route; `make fuzz` runs many more
(FUZZ_EXAMPLES)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import strategies as gql_st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tasks.redis.keys import JOB_INDEX_KEY
from tests.support.gateway_log import LogWatch
from tests.support.launcher import Launcher
from tests.support.servers import ARTIFACTS, ROOT, Gateway, RedisServer

EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "25")
# The suite's 120 s per test is for `make test`'s few examples; `make fuzz` asks for more.
TIMEOUT = 120 + 2 * int(EXAMPLES)
pytestmark = pytest.mark.timeout(TIMEOUT)
KEY = "fuzz-key-0123456789abcdef"
CONFIG = ROOT / "tests" / "schemathesis.toml"  # the checks left out or tuned, and why


@pytest.fixture(scope="module")
def fuzz_stack(module_launch: Launcher) -> tuple[Gateway, RedisServer]:
    # Small bounds, so that the jobs the fuzzer submits finish quickly.
    stack = module_launch.stack("fuzz-worker", SUM_MAX_NUMBER="1000", WAIT_MAX_SECONDS="0.5",
                                CELERY_VISIBILITY_TIMEOUT="30", MAX_QUEUE_DEPTH="0",
                                API_KEYS=f"fuzz:{KEY}")
    return stack.gateway, stack.redis


@pytest.fixture(scope="module")
def fuzz_gateway(fuzz_stack: tuple[Gateway, RedisServer]) -> Gateway:
    return fuzz_stack[0]


def schemathesis(location: str, *extra: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("schemathesis", path=str(ROOT / ".venv" / "bin")) or "schemathesis"
    report = ARTIFACTS / "schemathesis"
    return subprocess.run(
        [binary, "--config-file", str(CONFIG), "run", location, *extra,
         "--header", f"Authorization: Bearer {KEY}", "--max-examples", EXAMPLES,
         "--seed", "20261125",
         # One worker: two threads of hypothesis calling ast.parse at once trip a
         # CPython 3.11 bug ("AST constructor recursion depth mismatch").
         "--workers", "1", "--no-color", "--request-timeout", "10",
         "--report", "junit", "--report-dir", str(report)],
        capture_output=True, text=True, timeout=TIMEOUT - 30, cwd=ROOT,
    )


def test_rest_api_never_fails(fuzz_gateway: Gateway) -> None:
    watch = LogWatch(fuzz_gateway)
    done = schemathesis(f"{fuzz_gateway.url}/producer/api/openapi.json")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert watch.errors() == []


# Our own check rather than schemathesis's: it counts every execution error whose code it
# does not know (NOT_FOUND, CONFLICT, UNAVAILABLE...) as a server error. What we promise is
# narrower and stronger: never HTTP 500, never an internal error, whatever the document.
BIG_INT = st.integers(min_value=-(10**30), max_value=10**30).map(
    lambda n: graphql.IntValueNode(value=str(n)))
JSON_LEAF = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20).map(
        lambda n: graphql.IntValueNode(value=str(n))),
    st.floats(allow_nan=False, allow_infinity=False).map(
        lambda x: graphql.FloatValueNode(value=repr(x))),
    st.text(max_size=20).map(lambda t: graphql.StringValueNode(value=t)),
    st.booleans().map(lambda b: graphql.BooleanValueNode(value=b)),
    st.just(graphql.NullValueNode()),
)
JSON_OBJECT = st.dictionaries(
    st.sampled_from(["number", "seconds", "x", "counter_file"]) | st.from_regex(
        r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True), JSON_LEAF, max_size=3,
).map(lambda d: graphql.ObjectValueNode(fields=tuple(
    graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v) for k, v in d.items())))
# Times: valid RFC 3339 at any offset (the extremes of the calendar too), without an offset,
# and anything else.
DATE_TIME = st.one_of(
    st.datetimes(timezones=st.timezones() | st.just(None)).map(lambda d: d.isoformat()),
    st.from_regex(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})", fullmatch=True),
    st.text(max_size=30),
).map(lambda t: graphql.StringValueNode(value=t))
SCALARS = {"BigInt": BIG_INT, "JSON": st.one_of(JSON_OBJECT, JSON_LEAF), "DateTime": DATE_TIME}


def test_graphql_api_never_fails(fuzz_gateway: Gateway) -> None:
    sdl = (ROOT / "gateway" / "graphql" / "schema.graphql").read_text()
    documents = st.one_of(
        *(strategy(sdl, custom_scalars=SCALARS, mode=mode)
          for strategy in (gql_st.queries, gql_st.mutations)
          for mode in (gql_st.Mode.POSITIVE, gql_st.Mode.NEGATIVE)))
    seen: set[str] = set()
    watch = LogWatch(fuzz_gateway)

    with httpx.Client(base_url=fuzz_gateway.url, timeout=15,
                      headers={"Authorization": f"Bearer {KEY}"}) as client:

        @settings(max_examples=int(EXAMPLES) * 8, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(document=documents)
        def check(document: str) -> None:
            r = client.post("/graphql", json={"query": document})
            assert r.status_code in (200, 400, 413), (r.status_code, document, r.text)
            for error in r.json().get("errors") or []:
                code = (error.get("extensions") or {}).get("code")
                seen.add(str(code))
                assert code != "INTERNAL_SERVER_ERROR", (document, error)
                assert "Traceback" not in error["message"]

        check()
    assert "BAD_USER_INPUT" in seen  # the negative documents did reach the validation
    assert watch.errors() == []


# Hostile JSON text: nesting far past json_input.MAX_DEPTH (and past the standard
# library's recursion limit, closed or not), integers far past MAX_INT_DIGITS, and ordinary JSON.
JSON_TEXT = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=20,
).map(json.dumps)
HOSTILE_VALUE = st.one_of(
    st.integers(min_value=1, max_value=2000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=1, max_value=2000).map(lambda n: '{"a": ' * n + "1" + "}" * n),
    st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n),  # deep and unclosed
    st.integers(min_value=1, max_value=6000).map(lambda n: "9" * n),
    st.integers(min_value=1, max_value=6000).map(lambda n: "-" + "1" * n),
    JSON_TEXT,
)
REST_BODIES = {
    "/producer/api/sum": ['{"number": %s}', "%s"],
    "/producer/api/wait_and_return": ['{"seconds": %s}', "%s"],
    "/producer/api/jobs": ['{"function": "sum_to_n_job", "input": {"number": %s}}',
                           '{"function": "sum_to_n_job", "input": %s}',
                           '{"function": %s, "input": {}}'],
    "/producer/api/webhooks": ['{"url": %s}', '{"url": "https://example.com/", "events": %s}'],
}
GRAPHQL_DOCUMENT = json.dumps("mutation($n: BigInt!) { submitSum(number: $n) { id } }")
GRAPHQL_BODIES = ['{"query": ' + GRAPHQL_DOCUMENT + ', "variables": {"n": %s}}',
                  '{"query": ' + GRAPHQL_DOCUMENT + ', "variables": %s}',
                  '{"query": ' + GRAPHQL_DOCUMENT + ', "extensions": %s}',
                  '{"query": ' + GRAPHQL_DOCUMENT + ', "operationName": %s}',
                  '{"query": %s}', "%s"]
NOT_UTF8 = st.sampled_from([b"", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80abc"])
KEYS = st.sampled_from([{}, {"Authorization": "Bearer wrong-key-0123456789"},
                        {"Authorization": f"Bearer {KEY}"}])


@st.composite
def hostile_body(draw: st.DrawFn, templates: list[str]) -> bytes:
    """A body from a template and a hostile value, with maybe a stray byte that is not
    UTF-8 somewhere in it."""
    text = (draw(st.sampled_from(templates)) % draw(HOSTILE_VALUE)).encode()
    at = draw(st.integers(min_value=0, max_value=len(text)))
    return text[:at] + draw(NOT_UTF8) + text[at:]


def test_hostile_bodies_are_4xx_on_every_face(
        fuzz_stack: tuple[Gateway, RedisServer]) -> None:
    gateway, redis_server = fuzz_stack
    jobs = redis_server.client()
    watch = LogWatch(gateway)
    requests = st.one_of(
        *(st.tuples(st.just(path), hostile_body(templates))
          for path, templates in REST_BODIES.items()),
        st.tuples(st.just("/graphql"), hostile_body(GRAPHQL_BODIES)),
    )

    with httpx.Client(base_url=gateway.url, timeout=15) as client:

        @settings(max_examples=int(EXAMPLES) * 8, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(request=requests, headers=KEYS)
        def check(request: tuple[str, bytes], headers: dict[str, str]) -> None:
            path, body = request
            before = jobs.zcard(JOB_INDEX_KEY)
            r = client.post(path, content=body,
                            headers={"content-type": "application/json", **headers})
            if headers.get("Authorization") != f"Bearer {KEY}":
                assert r.status_code == 401, (path, body[:200], r.text)  # no body read
            elif path == "/graphql":
                assert r.status_code in (200, 400), (body[:200], r.text)
                if r.status_code == 200:
                    for error in r.json().get("errors") or []:
                        assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", error
            else:
                assert r.status_code in (200, 201, 202, 422), (path, body[:200], r.text)
            if r.status_code >= 400:
                assert jobs.zcard(JOB_INDEX_KEY) == before, (path, body[:200])

        check()

        @settings(max_examples=int(EXAMPLES) * 2, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(name=st.sampled_from(["variables", "extensions"]), value=HOSTILE_VALUE)
        def check_get(name: str, value: str) -> None:
            r = client.get("/graphql", params={"query": "{ functions { name } }", name: value},
                           headers={"Authorization": f"Bearer {KEY}"})
            assert r.status_code in (200, 400), (name, value[:200], r.text)

        check_get()
    assert watch.errors() == []


# graphql-transport-ws messages: hostile text, and objects shaped almost like the
# protocol's messages (every field of the wrong type at times).
WS_FIELD = st.one_of(st.text(max_size=10), JSON_TEXT.map(json.loads))
WS_MESSAGES = st.one_of(
    HOSTILE_VALUE,
    st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["subscribe", "complete", "ping", "pong", "connection_init",
                                 "next"]) | WS_FIELD,
        "id": WS_FIELD,
        "payload": st.fixed_dictionaries({}, optional={
            "query": st.sampled_from([
                "subscription { jobUpdated(id: \"x\") { status } }",
                "subscription($s: JobStatus, $f: String) { jobsUpdated(status: $s, "
                "function: $f) { id status } }"]) | WS_FIELD,
            "variables": WS_FIELD, "operationName": WS_FIELD, "extensions": WS_FIELD,
        }) | WS_FIELD,
    }).map(json.dumps),
)


async def ws_exchange(url: str, message: str) -> int | None:
    """Send `message` after connection_init, then a ping: None when the pong comes (the
    socket lives), else the code of the close frame the server sent."""
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"Authorization": f"Bearer {KEY}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        try:
            await ws.send(message)
            await ws.send(json.dumps({"type": "ping"}))
            async with asyncio.timeout(15):
                while json.loads(await ws.recv()).get("type") != "pong":
                    pass
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, f"dropped without a close frame: {closed}"
            return closed.rcvd.code
    return None


def test_hostile_websocket_messages_close_with_a_reason(fuzz_gateway: Gateway) -> None:
    url = fuzz_gateway.url.replace("http://", "ws://") + "/graphql"
    watch = LogWatch(fuzz_gateway)
    codes: set[int | None] = set()

    @settings(max_examples=int(EXAMPLES) * 4, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(message=WS_MESSAGES)
    def check(message: str) -> None:
        code = asyncio.run(ws_exchange(url, message))
        # 4400 bad message, 4409 an id in use, 4429 a second connection_init
        assert code in (None, 4400, 4409, 4429), (code, message[:200])
        codes.add(code)

    check()
    assert 4400 in codes  # the hostile messages did reach the checks
    assert watch.errors() == []
