"""The express lane (gateway/rest/express.py) answers exactly as the FastAPI routes would: the
same requests sent to the lane and to the bare FastAPI app, in process, on a real Redis.
The lane's own counter (gateway_express_lane_requests_total) shows which requests the lane
answered itself and which it handed to the FastAPI app."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import httpx
import pytest
import redis.asyncio
from fastapi import Depends, FastAPI, Header, Request, Response
from pydantic import BaseModel

from gateway.app import build_api, create_app
from gateway.graphql import prepared
from gateway.rest import API_PREFIX
from gateway.rest.express import ExpressLane, express
from gateway.services.auth import Authenticator
from gateway.services.metrics import REGISTRY
from tasks.settings import Settings
from tests.support.helpers import normalized
from tests.support.servers import RedisServer

KEY = "express-lane-test-key-0123456789"
AUTH = {"X-API-Key": KEY}


# (method, path, headers, body, the lane route that answers it or None for the FastAPI
# app): submits and polls, well formed and not.
CASES: list[tuple[str, str, dict[str, str], bytes | None, str | None]] = [
    ("POST", "/sum", AUTH, b'{"number": 10}', "submit"),
    ("POST", "/sum", {**AUTH, "Idempotency-Key": "k-1"}, b'{"number": 10}', "submit"),
    ("POST", "/sum", {**AUTH, "Idempotency-Key": "k-1"}, b'{"number": 11}', "submit"),  # 409
    ("POST", "/sum", {**AUTH, "Idempotency-Key": "\x7f"}, b'{"number": 10}', "submit"),
    ("POST", "/sum", AUTH, b'{"number": "10"}', None),
    ("POST", "/sum", AUTH, b'{"number": -1}', None),
    ("POST", "/sum", AUTH, b'{"number": 1e400}', None),
    ("POST", "/sum", AUTH, b'{"number": 100000000000000000000000}', None),
    ("POST", "/sum", AUTH, b'{"number": 10', None),
    ("POST", "/sum", AUTH, b"[]", None),
    ("POST", "/sum", AUTH, b"", None),
    ("POST", "/sum", AUTH, b'{"number": 1, "callback_url": "http://127.0.0.1/x"}',
     "submit"),  # refused by the service: 422
    # A refused key: the lane leaves the 401 to FastAPI's route (it reads no body either).
    ("POST", "/sum", {}, b'{"number": 10}', None),
    ("POST", "/sum", {"X-API-Key": "wrong-key-0123456789"}, b'{"number": 10}', None),
    ("GET", "/sum/not-a-uuid", AUTH, None, "poll"),
    ("GET", "/sum/00000000-0000-4000-8000-000000000000", AUTH, None, "poll"),
    ("GET", "/wait_and_return/00000000-0000-4000-8000-000000000000", AUTH, None, "poll"),
    ("GET", "/sum/00000000-0000-4000-8000-000000000000", {}, None, "poll"),
    # A query string (long polling's ?wait=) is FastAPI's to read.
    ("GET", "/sum/00000000-0000-4000-8000-000000000000?wait=0", AUTH, None, None),
    ("GET", "/sum/not-a-uuid?wait=1", AUTH, None, None),
    ("GET", "/wait_and_return/00000000-0000-4000-8000-000000000000?wait=nan", AUTH, None,
     None),
    ("GET", "/sum/00000000-0000-4000-8000-000000000000?wait=abc", AUTH, None, None),
]


MUTATION = b'{"query": "mutation { submitSum(number: 3) { status } }"}'
# GraphQL POSTs: the lane hands every one to Strawberry's ASGI app itself.
GRAPHQL_CASES: list[tuple[dict[str, str], bytes]] = [
    (AUTH, MUTATION),
    (AUTH, b'{"query": "mutation { submitSum(number: -1) { status } }"}'),
    (AUTH, b'{"query": "{ nope }"}'),
    (AUTH, b'{"query": "subscription { jobUpdated(id: \\"x\\") { status } }"}'),
    (AUTH, b'{"query": '),
    (AUTH, b""),
    ({}, MUTATION),  # no key: 401
]
LANE_ROUTES = ("submit", "poll", "graphql")


def lane_counts() -> dict[str, float]:
    return {route: REGISTRY.get_sample_value("gateway_express_lane_requests_total",
                                             {"route": route}) or 0.0
            for route in LANE_ROUTES}


def served_by_lane(before: dict[str, float]) -> dict[str, float]:
    """The lane's counts that grew since `before`: {route: by how much}."""
    after = lane_counts()
    return {route: after[route] - before[route] for route in LANE_ROUTES
            if after[route] != before[route]}


def test_the_lane_and_fastapi_answer_alike(own_redis: RedisServer) -> None:
    settings = Settings(_env_file=None, redis_url=own_redis.url,
                        api_keys=f"acme:{KEY}")
    api = build_api(settings)
    lane = create_app(settings)

    async def compare() -> None:
        async with api.router.lifespan_context(api):
            # The lane's FastAPI app is another instance: give both one lifespan state.
            lane_api = lane_inner(lane)
            lane_api.state.__dict__.update(api.state.__dict__)
            ours = httpx.AsyncClient(transport=httpx.ASGITransport(app=lane),
                                     base_url="http://gw")
            bare = httpx.AsyncClient(transport=httpx.ASGITransport(app=api),
                                     base_url="http://gw")
            async with ours, bare:
                for method, path, headers, body, lane_route in CASES:
                    headers = {**headers, "Content-Type": "application/json"}
                    before = lane_counts()
                    a = await ours.request(method, API_PREFIX + path, headers=headers,
                                           content=body)
                    assert served_by_lane(before) == ({lane_route: 1} if lane_route else {}), \
                        (method, path, body)
                    before = lane_counts()
                    b = await bare.request(method, API_PREFIX + path, headers=headers,
                                           content=body)
                    assert served_by_lane(before) == {}
                    assert normalized(a) == normalized(b), (method, path, body)
                for headers, body in GRAPHQL_CASES:
                    headers = {**headers, "Content-Type": "application/json"}
                    before = lane_counts()
                    a = await ours.post("/graphql", headers=headers, content=body)
                    assert served_by_lane(before) == {"graphql": 1}, body
                    b = await bare.post("/graphql", headers=headers, content=body)
                    assert normalized(a) == normalized(b), body
                    assert a.status_code < 500, (a.status_code, a.text)
                # A job submitted through the lane polls alike through both.
                before = lane_counts()
                job = (await ours.post(f"{API_PREFIX}/sum", json={"number": 5},
                                       headers=AUTH)).json()["job_id"]
                a = await ours.get(f"{API_PREFIX}/sum/{job}", headers=AUTH)
                assert served_by_lane(before) == {"submit": 1, "poll": 1}
                b = await bare.get(f"{API_PREFIX}/sum/{job}", headers=AUTH)
                assert a.status_code == 200 and a.text == b.text
                assert a.json()["status"] == "QUEUED"
                # With ?wait=0, FastAPI's way: the same bytes.
                before = lane_counts()
                c = await ours.get(f"{API_PREFIX}/sum/{job}?wait=0", headers=AUTH)
                assert served_by_lane(before) == {} and c.content == a.content

    asyncio.run(compare())


def test_a_bug_in_graphql_is_a_logged_masked_500_both_ways(
        own_redis: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lane hands GraphQL POSTs to Strawberry's app past FastAPI's handlers: the app
    answers a bug itself, as FastAPI's last handler would (router.GatewayGraphQL)."""
    settings = Settings(_env_file=None, redis_url=own_redis.url)
    lane = create_app(settings)  # configures logging: the root's handlers are its own
    api = lane_inner(lane)
    logged: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = logged.append  # type: ignore[method-assign,assignment]
    logging.getLogger("gateway.errors").addHandler(handler)

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a secret detail of the bug")

    monkeypatch.setattr(prepared, "prepare", broken)

    async def both() -> list[httpx.Response]:
        async with api.router.lifespan_context(api):
            answers = []
            for app in (lane, api):
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                             base_url="http://gw") as client:
                    before = lane_counts()
                    answers.append(await client.post("/graphql", content=MUTATION, headers={
                        "Content-Type": "application/json"}))
                    assert served_by_lane(before) == ({"graphql": 1} if app is lane else {})
            return answers

    try:
        answers = asyncio.run(both())
    finally:
        logging.getLogger("gateway.errors").removeHandler(handler)
    for r in answers:
        assert r.status_code == 500, r.text
        assert r.json() == {"error": "INTERNAL", "message": "internal error",
                            "detail": "internal error"}
    assert [record.getMessage() for record in logged] == ["unexpected error"] * 2
    assert all(record.exc_info and "a secret detail" in str(record.exc_info[1])
               for record in logged)


def lane_inner(app: Any) -> FastAPI:
    """The FastAPI app at the bottom of create_app's layers."""
    while not isinstance(app, FastAPI):
        app = app.app
    return app


def test_the_lane_serves_exactly_the_marked_routes() -> None:
    lane = lane_of(create_app(Settings(_env_file=None)))
    assert set(lane.submits) == {f"{API_PREFIX}/sum"}
    assert {prefix for prefix, _ in lane.polls} == {f"{API_PREFIX}/sum/",
                                                    f"{API_PREFIX}/wait_and_return/"}


class Body(BaseModel):
    n: int


async def dependency() -> int:
    return 1


def test_the_lane_calls_a_route_by_parameter_names(own_redis: RedisServer) -> None:
    """Parameters in any order, the header by its alias: the lane reads them from FastAPI's
    analysis of the route, so they cannot drift apart."""
    api = FastAPI()
    api.state.authenticator = Authenticator("", redis.asyncio.Redis.from_url(own_redis.url))

    @api.post("/x")
    @express
    async def reordered(idem: Annotated[str | None, Header(alias="Idem-Key")], body: Body,
                        request: Request) -> Response:
        return Response(f"{body.n} {idem} {request.url.path}")

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(
                app=ExpressLane(api, {}, cors=False)), base_url="http://t") as client:
            return await client.post("/x", json={"n": 3}, headers={"Idem-Key": "k"})

    before = lane_counts()
    assert asyncio.run(call()).text == "3 k /x"
    assert served_by_lane(before) == {"submit": 1}


def test_a_route_the_lane_cannot_serve_exactly_is_refused_at_build() -> None:
    api = FastAPI()

    @api.get("/y/{job_id}")
    @express
    async def with_query(request: Request, job_id: str, wait: int) -> Response:
        return Response()

    @api.get("/w/{job_id}")
    @express
    async def with_optional_query(request: Request, job_id: str, wait: int = 0
                                  ) -> Response:
        return Response()  # served: a request with a query string goes to FastAPI

    @api.post("/z")
    @express
    async def with_dependency(request: Request, body: Body,
                              n: Annotated[int, Depends(dependency)]) -> Response:
        return Response()

    with pytest.raises(ValueError, match="with_query cannot take the express lane: required "
                       "query"):
        ExpressLane(api, {}, cors=False)
    api.router.routes[:] = [r for r in api.router.routes if getattr(r, "name", "") != "with_query"]
    with pytest.raises(ValueError, match="with_dependency cannot take the express lane: dep"):
        ExpressLane(api, {}, cors=False)


def lane_of(app: Any) -> ExpressLane:
    while not isinstance(app, ExpressLane):
        app = app.app
    return app
