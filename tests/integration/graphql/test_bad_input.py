"""Bad GraphQL input of every kind: a readable message, the right `extensions.code`,
nothing enqueued, and never an HTTP 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.gateway_log import LogWatch
from tests.support.graphql_helpers import SUBMIT_SUM, SUBMIT_WAIT, index_size, only_error, post
from tests.support.servers import Gateway, RedisServer

SUBMIT_JOB = """mutation($f: String!, $input: JSON!, $url: String) {
    submitJob(function: $f, input: $input, callbackUrl: $url) { id } }"""
SUM_WITH_URL = "mutation($url: String) { submitSum(number: 5, callbackUrl: $url) { id } }"
JOBS = "query($first: Int, $after: String, $f: String) { jobs(first: $first, after: $after, " \
       "function: $f) { edges { cursor } } }"

# (query, variables, code, words the message must contain)
CASES: dict[str, tuple[str, dict[str, Any] | None, str, tuple[str, ...]]] = {
    # submitSum: the BigInt scalar, then the function's own bounds
    "sum string literal": ('mutation { submitSum(number: "ten") { id } }', None,
                           "BAD_USER_INPUT", ("BigInt", "'ten'", "not a decimal integer")),
    "sum float literal": ("mutation { submitSum(number: 1.5) { id } }", None,
                          "BAD_USER_INPUT", ("BigInt", "integer")),
    "sum bool variable": (SUBMIT_SUM, {"n": True}, "BAD_USER_INPUT", ("$n", "boolean")),
    "sum float variable": (SUBMIT_SUM, {"n": 10.0}, "BAD_USER_INPUT",
                           ("$n", "fractional")),
    "sum object variable": (SUBMIT_SUM, {"n": {"x": 1}}, "BAD_USER_INPUT", ("$n", "BigInt")),
    "sum null variable": (SUBMIT_SUM, {"n": None}, "BAD_USER_INPUT", ("$n", "null")),
    "sum missing variable": (SUBMIT_SUM, {}, "BAD_USER_INPUT", ("$n", "to be provided")),
    "sum missing argument": ("mutation { submitSum { id } }", None, "BAD_USER_INPUT",
                             ("number", "required")),
    "sum negative": (SUBMIT_SUM, {"n": -1}, "BAD_USER_INPUT",
                     ("number", "greater than or equal to 0")),
    "sum too large": (SUBMIT_SUM, {"n": 50_000_001}, "BAD_USER_INPUT",
                      ("number", "less than or equal to 50000000")),
    "sum huge BigInt": ("mutation { submitSum(number: 123456789012345678901234567890) "
                        "{ id } }", None, "BAD_USER_INPUT", ("less than or equal",)),
    "sum absurd BigInt": (SUBMIT_SUM, {"n": "9" * 5000}, "BAD_USER_INPUT",
                          ("more than 100 digits",)),
    "sum decimal string": (SUBMIT_SUM, {"n": "1e3"}, "BAD_USER_INPUT",
                           ("'1e3'", "not a decimal integer")),
    # submitWaitAndReturn
    "wait negative": (SUBMIT_WAIT, {"s": -1}, "BAD_USER_INPUT",
                      ("seconds", "greater than or equal to 0")),
    "wait too long": (SUBMIT_WAIT, {"s": 31}, "BAD_USER_INPUT",
                      ("seconds", "less than or equal to 30")),
    "wait string": (SUBMIT_WAIT, {"s": "5"}, "BAD_USER_INPUT", ("$s", "Float")),
    "wait literal string": ('mutation { submitWaitAndReturn(seconds: "x") { id } }', None,
                            "BAD_USER_INPUT", ("Float",)),
    # submitJob
    "unknown function": (SUBMIT_JOB, {"f": "nope", "input": {}}, "NOT_FOUND",
                         ("unknown function 'nope'", "sum_to_n_job")),
    "input not an object": (SUBMIT_JOB, {"f": "sum_to_n_job", "input": [1, 2]},
                            "BAD_USER_INPUT", ("expected a JSON object",)),
    "input missing field": (SUBMIT_JOB, {"f": "sum_to_n_job", "input": {}},
                            "BAD_USER_INPUT", ("number", "Field required")),
    "input unknown field": (SUBMIT_JOB, {"f": "sum_to_n_job", "input": {"number": 1, "x": 2}},
                            "BAD_USER_INPUT", ("x", "Extra inputs are not permitted")),
    "input wrong type": (SUBMIT_JOB, {"f": "sum_to_n_job", "input": {"number": "10"}},
                         "BAD_USER_INPUT", ("number", "valid integer")),
    "input null": (SUBMIT_JOB, {"f": "sum_to_n_job", "input": None}, "BAD_USER_INPUT",
                   ("$input", "null")),
    # callbackUrl
    "callback scheme": (SUM_WITH_URL, {"url": "ftp://example.com/x"}, "BAD_USER_INPUT",
                        ("callback_url", "http or https")),
    "callback no host": (SUM_WITH_URL, {"url": "http://"}, "BAD_USER_INPUT",
                         ("callback_url", "no host")),
    "callback bad port": (SUM_WITH_URL, {"url": "http://example.com:99999/"},
                          "BAD_USER_INPUT", ("callback_url", "not a valid URL")),
    "callback too long": (SUM_WITH_URL, {"url": "https://example.com/" + "a" * 2100},
                          "BAD_USER_INPUT", ("callback_url", "longer than 2048")),
    "callback not a string": (SUM_WITH_URL, {"url": 5}, "BAD_USER_INPUT", ("$url",)),
    # jobs
    "first zero": (JOBS, {"first": 0}, "BAD_USER_INPUT", ("first", "between 1 and 100")),
    "first negative": (JOBS, {"first": -5}, "BAD_USER_INPUT", ("first", "between 1 and 100")),
    "first too large": (JOBS, {"first": 101}, "BAD_USER_INPUT", ("first", "(got 101)")),
    "first beyond Int": (JOBS, {"first": 2**40}, "BAD_USER_INPUT", ("$first", "Int")),
    "after garbage": (JOBS, {"after": "not-a-cursor"}, "BAD_USER_INPUT",
                      ("after", "not a cursor")),
    "after forged": (JOBS, {"after": "MXx4"}, "BAD_USER_INPUT", ("after", "not a cursor")),
    "jobs unknown function": (JOBS, {"f": "nope"}, "BAD_USER_INPUT",
                              ("function", "unknown function 'nope'", "sum_to_n_job")),
    "jobs unknown status": ("{ jobs(status: DONE) { edges { cursor } } }", None,
                            "BAD_USER_INPUT", ("DONE", "JobStatus")),
    # documents that are not valid GraphQL for this schema
    "syntax error": ("mutation { submitSum(number: 5 { id } }", None,
                     "GRAPHQL_PARSE_FAILED", ("Syntax Error",)),
    "empty selection": ("{ job(id: \"x\") { } }", None, "GRAPHQL_PARSE_FAILED",
                        ("selection set must name at least one field",)),
    "unknown field": ("{ job(id: \"x\") { id colour } }", None, "GRAPHQL_VALIDATION_FAILED",
                      ("Cannot query field 'colour'",)),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input(case: str, client: httpx.Client, redis_server: RedisServer) -> None:
    query, variables, code, words = CASES[case]
    before = index_size(redis_server)
    error = only_error(post(client, query, variables))  # HTTP 200: a GraphQL error
    assert error["extensions"]["code"] == code, error
    for word in words:
        assert word in error["message"], (word, error["message"])
    assert index_size(redis_server) == before, "a bad submit queued a job"


def test_input_errors_carry_their_path_and_details(client: httpx.Client) -> None:
    error = only_error(post(client, SUBMIT_SUM, {"n": -1}))
    assert error["path"] == ["submitSum"]
    assert error["extensions"]["details"] == [
        {"loc": ["number"], "msg": "Input should be greater than or equal to 0",
         "type": "greater_than_equal"}]


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"{not json", {"content-type": "application/json"}, 400),
        (b"[]", {"content-type": "application/json"}, 400),
        (b"9", {"content-type": "application/json"}, 400),
        (b'"query"', {"content-type": "application/json"}, 400),
        (b"null", {"content-type": "application/json"}, 400),
        (b'{"variables": {}}', {"content-type": "application/json"}, 400),
        (b'{"query": 5}', {"content-type": "application/json"}, 400),
        (b'{"query": "{ functions { name } }", "variables": [1]}',
         {"content-type": "application/json"}, 400),
        (b"query=x", {"content-type": "text/plain"}, 400),
        (b'{"query": "' + b"#" * 70_000 + b'"}', {"content-type": "application/json"}, 413),
    ],
    ids=["malformed json", "json list", "json number", "json string", "json null", "no query",
         "query not a string", "variables not an object", "wrong content type", "oversize body"],
)
def test_malformed_requests_are_4xx(
    content: bytes, headers: dict[str, str], status: int, client: httpx.Client
) -> None:
    r = client.post("/graphql", content=content, headers=headers)
    assert r.status_code == status, r.text


def test_unknown_operation_name_is_400(client: httpx.Client) -> None:
    r = client.post("/graphql", json={"query": "query A { functions { name } }",
                                      "operationName": "B"})
    assert r.status_code == 400
    assert r.json() == {"errors": [{"message": 'Unknown operation named "B".'}]}


def test_mutation_over_get_is_refused(client: httpx.Client, redis_server: RedisServer
                                      ) -> None:
    before = index_size(redis_server)
    r = client.get("/graphql", params={"query": "mutation { submitSum(number: 1) { id } }"})
    assert 400 <= r.status_code < 500, r.text
    assert index_size(redis_server) == before


def test_subscription_over_plain_http_is_a_clear_400(client: httpx.Client) -> None:
    r = client.post("/graphql", json={
        "query": 'subscription S { jobUpdated(id: "00000000-0000-0000-0000-000000000000") '
                 "{ status } }"})
    assert r.status_code == 400
    assert "WebSocket" in r.text


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# JSON out of the decoder's bounds (gateway/services/json_input.py): a 400 saying what is wrong,
# whether the document is new (Strawberry's way) or known good (the prepared path).
JSON_OUT_OF_BOUNDS = {
    "variables nested 1000 deep": ('"variables": {"n": ' + deep(1000) + "}",
                                   "nested deeper than 64 levels"),
    "extensions nested 1000 deep": ('"extensions": {"x": ' + deep(1000) + "}",
                                    "nested deeper than 64 levels"),
    "variables nested 2000 deep, unclosed": ('"variables": {"n": ' + "[" * 2000 + "1",
                                             "nested deeper than 64 levels"),
    "JSON input nested 100 deep": ('"variables": {"n": {"a": ' + deep(100) + "}}",
                                   "nested deeper than 64 levels"),
    "5000-digit integer": ('"variables": {"n": ' + "9" * 5000 + "}",
                           "integer of more than 500 digits"),
}


@pytest.mark.parametrize("document", [SUBMIT_SUM, "query($n: JSON) { functions { name } }"],
                         ids=["known document", "new document"])
@pytest.mark.parametrize("case", list(JSON_OUT_OF_BOUNDS))
def test_json_out_of_bounds_is_400(case: str, document: str, client: httpx.Client,
                                   gateway: Gateway, redis_server: RedisServer) -> None:
    post(client, SUBMIT_SUM, {"n": 1})  # the document is known good from here on
    fields, message = JSON_OUT_OF_BOUNDS[case]
    watch = LogWatch(gateway)
    before = index_size(redis_server)
    body = '{"query": ' + json.dumps(document) + ", " + fields + "}"
    r = client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/json"  # as GraphQL clients read errors
    assert message in r.json()["errors"][0]["message"]
    assert index_size(redis_server) == before
    assert watch.errors() == []


def test_body_not_utf8_is_400(client: httpx.Client, gateway: Gateway) -> None:
    watch = LogWatch(gateway)
    for body in (b'{"query": "{ functions { name } }", "x": "\xff"}',
                 json.dumps({"query": SUBMIT_SUM, "variables": {"n": "é"}},
                            ensure_ascii=False).encode("latin-1")):
        r = client.post("/graphql", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400 and "not UTF-8" in r.text, r.text
    assert watch.errors() == []


@pytest.mark.parametrize(("param", "value", "message"), [
    ("variables", '{"n": ' + deep(1000) + "}", "nested deeper than 64 levels"),
    ("extensions", '{"x": ' + deep(1000) + "}", "nested deeper than 64 levels"),
    ("variables", '{"n": ' + "9" * 5000 + "}", "integer of more than 500 digits"),
])
def test_get_parameters_out_of_bounds_are_400(param: str, value: str, message: str,
                                              client: httpx.Client, gateway: Gateway) -> None:
    watch = LogWatch(gateway)
    r = client.get("/graphql", params={"query": "{ functions { name } }", param: value})
    assert r.status_code == 400 and message in r.text, r.text
    assert watch.errors() == []


def test_chunked_oversize_body_is_413_without_an_error(client: httpx.Client,
                                                       gateway: Gateway) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"query": "'
        for _ in range(100):
            yield b"#" * 1000
        yield b'"}'

    watch = LogWatch(gateway)
    r = client.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than" in r.json()["message"]
    assert watch.errors() == []
