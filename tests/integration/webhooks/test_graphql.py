"""The GraphQL face of the webhook service, and tenants: an endpoint hears only its own
tenant's jobs, and nobody sees another tenant's endpoints or deliveries."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import standardwebhooks

from tasks.webhooks.config import DEVELOPMENT_WEBHOOK_SECRET
from tests.support.launcher import Launcher
from tests.support.servers import Gateway
from tests.support.webhook_receiver import Receiver, Reply

ALPHA = "alpha-key-0123456789abcdef"
BETA = "beta-key-0123456789abcdef"
REGISTER = """mutation($url: String!, $events: [String!]) {
  registerWebhook(url: $url, events: $events, description: "ci") {
    id url events allEvents enabled secret } }"""
SUBMIT = """mutation($n: BigInt!, $cb: String) { submitSum(number: $n, callbackUrl: $cb) {
  id } }"""
JOB = """query($id: ID!) { job(id: $id) { status deliveries { id event url status
  attemptCount endpointId endpoint { id url } attempts { number statusCode error } } } }"""


@pytest.fixture(scope="module")
def stack(module_launch: Launcher) -> tuple[Gateway, Receiver, Receiver]:
    alpha_hooks = module_launch.receiver("127.0.0.3")
    beta_hooks = module_launch.receiver("127.0.0.3")
    gateway = module_launch.stack(
        "gql-webhook-worker", dispatcher=True, API_KEYS=f"alpha:{ALPHA},beta:{BETA}",
        WEBHOOK_ALLOWED_NETWORKS="127.0.0.3/32", WEBHOOK_RETRY_SCHEDULE="0,0.2,0.5").gateway
    return gateway, alpha_hooks, beta_hooks


def gql(gateway: Gateway, key: str, query: str, **variables: Any) -> dict[str, Any]:
    r = httpx.post(f"{gateway.url}/graphql", json={"query": query, "variables": variables},
                   headers={"Authorization": f"Bearer {key}"}, timeout=15)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def finished_with_deliveries(gateway: Gateway, key: str, job_id: str, count: int
                             ) -> dict[str, Any]:
    deadline_body: dict[str, Any] = {}
    for _ in range(300):
        deadline_body = gql(gateway, key, JOB, id=job_id)["data"]["job"]
        done = [d for d in deadline_body["deliveries"] if d["status"] == "SUCCEEDED"]
        if len(done) >= count:
            return deadline_body
        httpx.get(f"{gateway.url}/healthz")  # a short pause that also checks the gateway
    raise AssertionError(f"deliveries never all SUCCEEDED: {deadline_body}")


def test_register_deliver_replay_rotate_delete(stack: tuple[Gateway, Receiver, Receiver]
                                               ) -> None:
    gateway, alpha_hooks, beta_hooks = stack
    made = gql(gateway, ALPHA, REGISTER, url=alpha_hooks.url("/alpha"),
               events=["job.succeeded"])["data"]["registerWebhook"]
    assert made["secret"].startswith("whsec_") and made["events"] == ["job.succeeded"]
    listed = gql(gateway, ALPHA, "{ webhooks { id secret } }")["data"]["webhooks"]
    assert listed == [{"id": made["id"], "secret": None}]  # the secret is shown once
    beta = gql(gateway, BETA, REGISTER, url=beta_hooks.url("/beta"))["data"]["registerWebhook"]
    assert gql(gateway, BETA, "{ webhooks { id } }")["data"]["webhooks"] == [{"id": beta["id"]}]

    job_id = gql(gateway, ALPHA, SUBMIT, n=10,
                 cb=alpha_hooks.url("/callback"))["data"]["submitSum"]["id"]
    job = finished_with_deliveries(gateway, ALPHA, job_id, 2)
    assert job["status"] == "SUCCEEDED"
    by_target = {d["endpointId"]: d for d in job["deliveries"]}
    assert by_target[None]["url"].endswith("/callback") and by_target[None]["endpoint"] is None
    assert by_target[made["id"]]["endpoint"]["url"].endswith("/alpha")
    assert by_target[made["id"]]["attempts"][0]["statusCode"] == 200

    message = alpha_hooks.wait_count("/alpha", 1)[0]
    payload = standardwebhooks.Webhook(made["secret"]).verify(message.body, message.headers)
    assert payload["type"] == "job.succeeded" and payload["data"]["result"] == 55
    # Beta's endpoint heard nothing of alpha's job, and beta cannot see or replay it.
    assert beta_hooks.received("/beta") == []
    assert gql(gateway, BETA, JOB, id=job_id)["data"]["job"] is None
    delivery_id = by_target[made["id"]]["id"]
    replay = "mutation($d: ID!) { redeliverWebhook(deliveryId: $d) { id status } }"
    refused = gql(gateway, BETA, replay, d=delivery_id)
    assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    for mutation in ("deleteWebhook", "rotateWebhookSecret", "enableWebhook"):
        other = gql(gateway, BETA, f'mutation($id: ID!) {{ {mutation}(id: $id) {{ id }} }}',
                    id=made["id"])
        assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND", mutation

    again = gql(gateway, ALPHA, replay, d=delivery_id)["data"]["redeliverWebhook"]
    assert again["id"] == delivery_id
    resent = alpha_hooks.wait_count("/alpha", 2)
    assert {m.webhook_id for m in resent} == {delivery_id}  # the same webhook-id

    rotated = gql(gateway, ALPHA, 'mutation($id: ID!) { rotateWebhookSecret(id: $id) { '
                  "secret } }", id=made["id"])["data"]["rotateWebhookSecret"]
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != made["secret"]
    deleted = gql(gateway, ALPHA, 'mutation($id: ID!) { deleteWebhook(id: $id) { id } }',
                  id=made["id"])["data"]["deleteWebhook"]
    assert deleted["id"] == made["id"]
    assert gql(gateway, ALPHA, "{ webhooks { id } }")["data"]["webhooks"] == []


def test_beta_endpoint_hears_only_beta_jobs(stack: tuple[Gateway, Receiver, Receiver]) -> None:
    gateway, _, beta_hooks = stack
    before = len(beta_hooks.received("/beta"))
    job_id = gql(gateway, BETA, SUBMIT, n=3)["data"]["submitSum"]["id"]
    got = beta_hooks.wait_count("/beta", before + 1)
    bodies = [json.loads(m.body) for m in got]
    assert {b["data"]["id"] for b in bodies} == {job_id}


def test_bad_registrations(stack: tuple[Gateway, Receiver, Receiver]) -> None:
    gateway, _, _ = stack
    for url, events in (("ftp://x.example/", None), ("http://169.254.169.254/", None),
                        ("http://2852039166/", None), ("https://ok.example/", ["job.nope"]),
                        ("https://ok.example/", [])):
        body = gql(gateway, ALPHA, REGISTER, url=url, events=events)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (url, body)
    assert gql(gateway, ALPHA, "{ webhooks { id } }")["data"]["webhooks"] == []


RATE = """mutation($id: ID!, $rate: Int) { setWebhookRateLimit(id: $id, rateLimit: $rate) {
  id rateLimit breaker { state consecutiveFailures openedAt nextProbeAt } } }"""


def test_rate_limit_and_breaker_state(stack: tuple[Gateway, Receiver, Receiver]) -> None:
    gateway, _, _ = stack
    made = gql(gateway, ALPHA, """mutation { registerWebhook(url: "https://ok.example/",
        rateLimit: 7) { id rateLimit breaker { state } } }""")["data"]["registerWebhook"]
    try:
        assert made["rateLimit"] == 7 and made["breaker"] == {"state": "CLOSED"}
        changed = gql(gateway, ALPHA, RATE, id=made["id"], rate=50)["data"]
        assert changed["setWebhookRateLimit"] == {
            "id": made["id"], "rateLimit": 50, "breaker": {
                "state": "CLOSED", "consecutiveFailures": 0, "openedAt": None,
                "nextProbeAt": None}}
        for rate in (0, -1, 1001):
            body = gql(gateway, ALPHA, RATE, id=made["id"], rate=rate)
            assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
            assert "rate_limit" in body["errors"][0]["message"]
        body = gql(gateway, ALPHA, """mutation { registerWebhook(url: "https://ok.example/",
            rateLimit: 0) { id } }""")
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
        body = gql(gateway, BETA, RATE, id=made["id"], rate=5)  # another tenant's
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body
        cleared = gql(gateway, ALPHA, RATE, id=made["id"], rate=None)["data"]
        assert cleared["setWebhookRateLimit"]["rateLimit"] is None
    finally:
        gql(gateway, ALPHA, 'mutation($id: ID!) { deleteWebhook(id: $id) { id } }',
            id=made["id"])


def test_reply_status_is_recorded(stack: tuple[Gateway, Receiver, Receiver]) -> None:
    gateway, alpha_hooks, _ = stack
    alpha_hooks.script("/flaky", Reply(500), Reply(200))
    job_id = gql(gateway, ALPHA, SUBMIT, n=4,
                 cb=alpha_hooks.url("/flaky"))["data"]["submitSum"]["id"]
    job = finished_with_deliveries(gateway, ALPHA, job_id, 1)
    attempts = job["deliveries"][0]["attempts"]
    assert [a["statusCode"] for a in attempts] == [500, 200]
    assert attempts[0]["error"] == "server_error"


def test_numeric_hosts_canonical_never_sendable_refused_one_endpoint_per_url(
    stack: tuple[Gateway, Receiver, Receiver],
) -> None:
    """GraphQL's face of the dead ends: a callbackUrl in decimal (or hex, octal) form is the
    receiver's address, stored as such and delivered; forms of another address are checked
    as that address, hosts no client sends to are BAD_USER_INPUT; a tenant's second
    endpoint for a URL is a CONFLICT naming the first, another tenant's is its own."""
    gateway, alpha_hooks, _ = stack
    port = alpha_hooks.port
    for written in (f"http://2130706435:{port}/numeric", f"http://0x7f.0.0.3:{port}/numeric",
                    f"http://017700000003:{port}/numeric"):
        job_id = gql(gateway, ALPHA, SUBMIT, n=2, cb=written)["data"]["submitSum"]["id"]
        job = gql(gateway, ALPHA, "query($id: ID!) { job(id: $id) { callbackUrl } }",
                  id=job_id)["data"]["job"]
        assert job["callbackUrl"] == f"http://127.0.0.3:{port}/numeric"
    arrived = alpha_hooks.wait_count("/numeric", 3)
    for request in arrived:  # signed with the development secret (WEBHOOK_SECRET is unset)
        standardwebhooks.Webhook(DEVELOPMENT_WEBHOOK_SECRET).verify(request.body, request.headers)
    for url, message in ((f"http://2130706434:{port}/", "the address 127.0.0.2 is refused"),
                         ("http://999.1.1.1/", "not a valid IPv4 address")):
        for body in (gql(gateway, ALPHA, SUBMIT, n=1, cb=url),
                     gql(gateway, ALPHA, REGISTER, url=url)):
            [error] = body["errors"]
            assert error["extensions"]["code"] == "BAD_USER_INPUT", body
            assert message in error["message"], body

    url = alpha_hooks.url("/once")
    made = gql(gateway, ALPHA, REGISTER, url=url)["data"]["registerWebhook"]
    try:
        again = gql(gateway, ALPHA, REGISTER, url=url.replace("http://", "HTTP://"))
        [error] = again["errors"]
        assert error["extensions"] == {"code": "CONFLICT", "existingId": made["id"]}, again
        assert again["data"] is None
        beta = gql(gateway, BETA, REGISTER, url=url)["data"]["registerWebhook"]
        gql(gateway, BETA, 'mutation($id: ID!) { deleteWebhook(id: $id) { id } }', id=beta["id"])
    finally:
        gql(gateway, ALPHA, 'mutation($id: ID!) { deleteWebhook(id: $id) { id } }',
            id=made["id"])
