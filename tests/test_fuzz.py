"""Schemathesis against the gateway's own schemas: every REST route of the OpenAPI
document (generated valid and invalid requests; no 5xx, and every response matches its
documented schema), and every GraphQL query and mutation (no HTTP 500, no unmasked error).

`make test` runs a bounded number of examples per route; `make fuzz` runs many more
(FUZZ_EXAMPLES)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import strategies as gql_st

from tests.servers import ARTIFACTS, ROOT, Gateway, RedisServer, stack_env, start_worker

EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "25")
KEY = "fuzz-key-0123456789abcdef"
CONFIG = ROOT / "tests" / "schemathesis.toml"  # the checks left out or tuned, and why


@pytest.fixture(scope="module")
def fuzz_gateway() -> Iterator[Gateway]:
    # Small bounds, so that the jobs the fuzzer submits finish quickly.
    redis_server = RedisServer().start()
    env = stack_env(redis_server.url, SUM_MAX_NUMBER="1000", WAIT_MAX_SECONDS="0.5",
                    CELERY_VISIBILITY_TIMEOUT="30", MAX_QUEUE_DEPTH="0",
                    API_KEYS=f"fuzz:{KEY}")
    worker = start_worker(env, name="fuzz-worker")
    gateway = Gateway(env).start()
    yield gateway
    gateway.stop()
    worker.stop()
    redis_server.stop()


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
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )


def test_rest_api_never_fails(fuzz_gateway: Gateway) -> None:
    done = schemathesis(f"{fuzz_gateway.url}/producer/api/openapi.json")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


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
SCALARS = {"BigInt": BIG_INT, "JSON": st.one_of(JSON_OBJECT, JSON_LEAF)}


def test_graphql_api_never_fails(fuzz_gateway: Gateway) -> None:
    sdl = (ROOT / "gateway" / "schema.graphql").read_text()
    documents = st.one_of(
        *(strategy(sdl, custom_scalars=SCALARS, mode=mode)
          for strategy in (gql_st.queries, gql_st.mutations)
          for mode in (gql_st.Mode.POSITIVE, gql_st.Mode.NEGATIVE)))
    seen: set[str] = set()

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
