"""Recovery and operational events end to end: a real Redis, Celery worker, gateway and
dispatcher, real receivers on loopback, two tenants (API keys).

`recover` since a time resends exactly the endpoint's failed and dead-lettered messages
created after it (none before, none twice, same webhook-ids); the failed-message listing
pages them; operational events arrive signed and verify with `standardwebhooks`; every new
route and field refuses bad input with a clear 4xx, never a 500.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import standardwebhooks

from tasks.redis.keys import endpoint_key
from tests.support.arrivals import settled_arrivals
from tests.support.helpers import fresh_path, registered_endpoints, submit_sum
from tests.support.launcher import Launcher
from tests.support.launcher import Stack as Servers
from tests.support.servers import wait_until
from tests.support.webhook_receiver import Receiver, Reply

API = "/producer/api"
ALPHA = "alpha-key-0123456789abcdef"
BETA = "beta-key-0123456789abcdef"
OPS = ["endpoint.disabled", "message.attempt.exhausted"]
Register = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def stack(module_launch: Launcher) -> tuple[Servers, Receiver]:
    receiver = module_launch.receiver("127.0.0.3")
    servers = module_launch.stack(
        "recovery-worker", API_KEYS=f"alpha:{ALPHA},beta:{BETA}",
        dispatcher={"WEBHOOK_RETRY_SCHEDULE": "0,0.2",  # two attempts, then dead letter
                    "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.3/32",
                    # Failing on purpose, message after message: the breaker would hold
                    # them (tests/integration/webhooks/test_flow_control.py is its test).
                    "WEBHOOK_BREAKER_FAILURES": "0"},
        WEBHOOK_ALLOWED_NETWORKS="127.0.0.3/32")
    return servers, receiver


@pytest.fixture()
def alpha(stack: tuple[Servers, Receiver]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack[0].gateway.url, timeout=15,
                      headers={"Authorization": f"Bearer {ALPHA}"}) as c:
        yield c


@pytest.fixture()
def beta(stack: tuple[Servers, Receiver]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack[0].gateway.url, timeout=15,
                      headers={"Authorization": f"Bearer {BETA}"}) as c:
        yield c


@pytest.fixture()
def register(alpha: httpx.Client) -> Iterator[Register]:
    """Alpha's endpoints for one test, deleted after it."""
    with registered_endpoints(alpha) as make:
        yield make


path = fresh_path


def submit(client: httpx.Client, callback_url: str | None = None) -> str:
    return submit_sum(client, 10, **({"callback_url": callback_url} if callback_url else {}))


def settled_delivery(client: httpx.Client, job_id: str, status: str) -> dict[str, Any]:
    """The job's one delivery, once it has `status`."""
    found: list[dict[str, Any]] = []

    def done() -> bool:
        nonlocal found
        found = client.get(f"{API}/jobs/{job_id}/deliveries").json()
        return len(found) == 1 and found[0]["status"] == status

    try:
        wait_until(done, 30, f"a {status} delivery", interval=0.05)
    except TimeoutError:
        raise AssertionError(f"{job_id}: {found}") from None
    return found[0]


def listed(client: httpx.Client, first: int, **query: str) -> list[list[str]]:
    """Every page of GET /webhooks/messages: the ids on each."""
    pages: list[list[str]] = []
    after: dict[str, str] = {}
    while True:
        r = client.get(f"{API}/webhooks/messages", params={**query, "first": first, **after})
        assert r.status_code == 200, r.text
        page = r.json()
        pages.append([d["id"] for d in page["data"]])
        if not page["has_next_page"]:
            return pages
        after = {"after": page["next_cursor"]}


def rfc3339(delivery: dict[str, Any], shift_ms: float = 1) -> str:
    return (datetime.fromisoformat(delivery["created_at"])
            + timedelta(milliseconds=shift_ms)).isoformat().replace("+00:00", "Z")


def test_recover_since_resends_exactly_the_failed_after_it(
    stack: tuple[Servers, Receiver], alpha: httpx.Client, beta: httpx.Client,
    register: Register,
) -> None:
    servers, receiver = stack
    hook = path()
    receiver.script_each_message(hook, Reply(503), Reply(500))  # both attempts fail
    endpoint = register(receiver.url(hook), events=["job.succeeded"])
    before = [settled_delivery(alpha, submit(alpha), "DEAD_LETTERED") for _ in range(2)]
    since = rfc3339(max(before, key=lambda d: d["created_at"]))
    after = [settled_delivery(alpha, submit(alpha), "DEAD_LETTERED") for _ in range(3)]
    receiver.script_each_message(hook)  # from now on every message is answered 200
    delivered = settled_delivery(alpha, submit(alpha), "SUCCEEDED")
    ids = {"before": {d["id"] for d in before}, "after": {d["id"] for d in after}}

    # The listing: newest first, every page full but the last, filtered by endpoint and time.
    by_endpoint = {"endpoint_id": endpoint["id"]}
    assert [len(p) for p in listed(alpha, 2, status="dead", **by_endpoint)] == [2, 2, 1]
    pages = listed(alpha, 2, status="failed", since=since, **by_endpoint)
    assert [len(p) for p in pages] == [2, 1] and set(pages[0] + pages[1]) == ids["after"]
    assert pages[0] + pages[1] == [d["id"] for d in reversed(after)]
    assert listed(beta, 10, **by_endpoint) == [[]]  # another tenant's: nothing

    assert beta.post(f"{API}/webhooks/{endpoint['id']}/recover",
                     json={"since": since}).status_code == 404
    r = alpha.post(f"{API}/webhooks/{endpoint['id']}/recover", json={"since": since})
    assert r.status_code == 202, r.text
    assert r.json()["recovered"] == 3 and r.json()["endpoint_id"] == endpoint["id"]
    again = alpha.post(f"{API}/webhooks/{endpoint['id']}/recover", json={"since": since})
    assert again.status_code == 202 and again.json()["recovered"] == 0  # already on its way
    for d in after:
        settled_delivery(alpha, d["job_id"], "SUCCEEDED")

    arrived = settled_arrivals(servers.redis.client(), receiver, hook)
    per_message = Counter(m.webhook_id for m in arrived)
    assert per_message == {**dict.fromkeys(ids["before"], 2), **dict.fromkeys(ids["after"], 3),
                           delivered["id"]: 1}
    for message_id in ids["after"]:  # the same message: id and body
        assert len({m.body for m in arrived if m.webhook_id == message_id}) == 1
    assert listed(alpha, 10, status="dead", since=since, **by_endpoint) == [[]]
    assert alpha.post(f"{API}/webhooks/{endpoint['id']}/recover",
                      json={"since": since}).json()["recovered"] == 0


def verified(receiver: Receiver, hook: str, secret: str, count: int) -> list[dict[str, Any]]:
    messages = receiver.wait_count(hook, count)
    return [standardwebhooks.Webhook(secret).verify(m.body, m.headers) for m in messages]


def test_operational_events_arrive_signed_to_their_subscribers_only(
    stack: tuple[Servers, Receiver], alpha: httpx.Client, beta: httpx.Client,
    register: Register,
) -> None:
    servers, receiver = stack
    ops_hook, every_hook, gone_hook, callback_hook = path(), path(), path(), path()
    ops = register(receiver.url(ops_hook), events=OPS)
    every = register(receiver.url(every_hook))  # every job event: no operational ones
    receiver.script(gone_hook, Reply(410))
    gone = register(receiver.url(gone_hook), events=["job.succeeded"])
    receiver.script(callback_hook, Reply(400))  # not retried: dead-lettered at once
    job_id = submit(alpha, receiver.url(callback_hook))

    events = {e["type"]: e for e in verified(receiver, ops_hook, ops["secret"], 2)}
    disabled, exhausted = events["endpoint.disabled"], events["message.attempt.exhausted"]
    gone_message = receiver.received(gone_hook)[0].webhook_id
    callback_message = receiver.received(callback_hook)[0].webhook_id
    assert disabled["data"] == {
        "endpoint_id": gone["id"], "url": gone["url"], "message_id": gone_message,
        "job_id": job_id, "last_status_code": 410,
        "reason": "the receiver answered 410 Gone"}
    assert exhausted["data"] == {
        "message_id": callback_message, "event": "job.succeeded", "endpoint_id": None,
        "job_id": job_id, "attempts": 1, "last_status_code": 400, "reason": "client_error"}
    assert datetime.fromisoformat(disabled["timestamp"]).tzinfo is not None
    shown = alpha.get(f"{API}/webhooks/{gone['id']}").json()
    assert shown["enabled"] is False

    client = servers.redis.client()
    assert len(settled_arrivals(client, receiver, ops_hook)) == 2  # once each
    to_every = settled_arrivals(client, receiver, every_hook)
    assert [standardwebhooks.Webhook(every["secret"]).verify(m.body, m.headers)["type"]
            for m in to_every] == ["job.succeeded"]
    # An event is a delivery of the tenant's: its log is alpha's to read, not beta's.
    event_id = receiver.received(ops_hook)[0].webhook_id
    shown_event = alpha.get(f"{API}/deliveries/{event_id}")
    assert shown_event.status_code == 200 and shown_event.json()["status"] == "SUCCEEDED"
    assert beta.get(f"{API}/deliveries/{event_id}").status_code == 404
    assert datetime.now(UTC) > datetime.fromisoformat(exhausted["timestamp"])


# --- bad input --------------------------------------------------------------------------

BAD_LISTINGS = [
    {"status": "bogus"}, {"status": ""}, {"endpoint_id": "wh_nope"}, {"endpoint_id": "x" * 200},
    {"since": "yesterday"}, {"since": "2026-01-01T00:00:00"}, {"since": "2026-01-01"},
    {"since": "2026-02-30T00:00:00Z"}, {"until": "2026-01-01T00:00:00+25:00"},
    {"since": "9" * 100}, {"until": "9999-12-31T23:59:59-23:59"},
    {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    {"first": "0"}, {"first": "101"}, {"first": "x"}, {"first": "99999999999999999999999"},
    {"after": "garbage"}, {"after": "bm9wZXxub3Bl"}, {"after": "A" * 500},
]


@pytest.mark.parametrize("query", BAD_LISTINGS)
def test_bad_listing_queries_are_422(alpha: httpx.Client, query: dict[str, str]) -> None:
    r = alpha.get(f"{API}/webhooks/messages", params=query)
    assert r.status_code == 422, (query, r.text)
    assert r.json()["error"] == "BAD_USER_INPUT", r.text


def test_bad_recover_requests(alpha: httpx.Client, beta: httpx.Client,
                              register: Register, stack: tuple[Servers, Receiver]) -> None:
    endpoint = register(stack[1].url(path()))
    url = f"{API}/webhooks/{endpoint['id']}/recover"
    bodies: list[Any] = [
        {}, {"since": "nope"}, {"since": "2026-01-01T00:00:00"}, {"since": 12}, {"since": None},
        {"since": "2026-01-01T00:00:00Z", "extra": 1}, {"since": "0001-01-01T00:00:00+23:59"},
        {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, []]
    for body in bodies:
        r = alpha.post(url, json=body)
        assert r.status_code == 422 and r.json()["error"] == "BAD_USER_INPUT", (body, r.text)
    r = alpha.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    good = {"since": "2026-01-01T00:00:00Z"}
    for unknown in ("wh_" + "0" * 32, "nope"):
        r = alpha.post(f"{API}/webhooks/{unknown}/recover", json=good)
        assert r.status_code == 404, r.text
    assert beta.post(url, json=good).status_code == 404  # another tenant's endpoint
    stack[0].redis.client().hset(endpoint_key(endpoint["id"]), "enabled", "0")
    r = alpha.post(url, json=good)
    assert r.status_code == 409 and "disabled" in r.json()["message"], r.text
    alpha.delete(f"{API}/webhooks/{endpoint['id']}")
    assert alpha.post(url, json=good).status_code == 404  # deleted


def gql(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    r = client.post("/graphql", json={"query": query, "variables": variables})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


MESSAGES = """query($s: WebhookMessageStatus!, $e: ID, $since: DateTime, $until: DateTime,
  $first: Int, $after: String) { webhookMessages(status: $s, endpointId: $e, since: $since,
  until: $until, first: $first, after: $after) { edges { cursor node { id status } }
  pageInfo { hasNextPage endCursor } } }"""
RECOVER = """mutation($id: ID!, $since: DateTime!, $until: DateTime) { recoverWebhook(id: $id,
  since: $since, until: $until) { recovered alreadyPending inFlight endpoint { id } } }"""


def test_graphql_listing_recover_and_their_bad_input(
    alpha: httpx.Client, beta: httpx.Client, register: Register,
    stack: tuple[Servers, Receiver],
) -> None:
    hook = path()
    stack[1].script_each_message(hook, Reply(503), Reply(503))
    endpoint = register(stack[1].url(hook), events=["job.succeeded"])
    dead = settled_delivery(alpha, submit(alpha), "DEAD_LETTERED")
    page = gql(alpha, MESSAGES, s="DEAD", e=endpoint["id"], first=1)["data"]["webhookMessages"]
    assert [e["node"]["id"] for e in page["edges"]] == [dead["id"]]
    assert page["pageInfo"]["hasNextPage"] is False
    done = gql(alpha, RECOVER, id=endpoint["id"], since=rfc3339(dead, -1))
    assert done["data"]["recoverWebhook"]["recovered"] == 1, done
    settled_delivery(alpha, dead["job_id"], "SUCCEEDED")

    def code(body: dict[str, Any]) -> str:
        assert body.get("data") is None or not any(body["data"].values()), body
        found: str = body["errors"][0]["extensions"]["code"]
        return found

    for variables in ({"s": "BOGUS"}, {"s": "DEAD", "since": "yesterday"},
                      {"s": "DEAD", "since": "2026-01-01T00:00:00"},
                      {"s": "FAILED", "since": "2026-01-02T00:00:00Z",
                       "until": "2026-01-01T00:00:00Z"},
                      {"s": "FAILED", "first": 0}, {"s": "FAILED", "first": 101},
                      {"s": "FAILED", "after": "garbage"}, {"s": "FAILED", "e": "wh_x"}):
        assert code(gql(alpha, MESSAGES, **variables)) == "BAD_USER_INPUT", variables
    assert code(gql(alpha, "{ webhookMessages(first: \"x\") { edges { cursor } } }")
                ) == "BAD_USER_INPUT"
    good = "2026-01-01T00:00:00Z"
    assert code(gql(alpha, RECOVER, id=endpoint["id"], since="nope")) == "BAD_USER_INPUT"
    for since in ("2026-01-01T00:00:00", "0001-01-01T00:00:00+23:59"):
        assert code(gql(alpha, RECOVER, id=endpoint["id"], since=since)) == "BAD_USER_INPUT"
    assert code(gql(alpha, RECOVER, id=endpoint["id"], since=good,
                    until="9999-12-31T23:59:59-23:59")) == "BAD_USER_INPUT"
    assert code(gql(alpha, "mutation { recoverWebhook(id: \"x\") { recovered } }")
                ) == "BAD_USER_INPUT"
    assert code(gql(alpha, RECOVER, id="wh_" + "0" * 32, since=good)) == "NOT_FOUND"
    assert code(gql(beta, RECOVER, id=endpoint["id"], since=good)) == "NOT_FOUND"
    stack[0].redis.client().hset(endpoint_key(endpoint["id"]), "enabled", "0")
    assert code(gql(alpha, RECOVER, id=endpoint["id"], since=good)) == "CONFLICT"
