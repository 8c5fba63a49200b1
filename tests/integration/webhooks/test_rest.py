"""The REST webhook routes' input handling, against the session's real gateway (whose
WEBHOOK_ALLOWED_NETWORKS is empty): SSRF-refused URLs are 422 and nothing is written; bad
bodies and unknown ids are clear 4xx; a registered endpoint's secret is shown once."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tasks.redis.keys import JOB_INDEX_KEY, endpoints_key
from tests.support.helpers import submit_sum, wait_for_status
from tests.support.launcher import Launcher
from tests.support.servers import RedisServer, stack_env

API = "/producer/api"

SSRF_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://2852039166/",
    "http://0xa9fea9fe/",
    "http://0251.0376.0251.0376/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:127.0.0.1]:8080/",
    "http://127.1:8080/",
    "http://localhost:8080/",  # a name that always means loopback
    "http://10.0.0.1/",
    "http://100.64.0.1/",
    "http://example.com:22/",  # a refused port
]


def jobs_accepted(redis_server: RedisServer) -> int:
    return int(redis_server.client().zcard(JOB_INDEX_KEY))


@pytest.fixture()
def endpoints(client: httpx.Client) -> Iterator[list[str]]:
    """Ids of endpoints a test registers; deleted afterwards (the session is shared)."""
    created: list[str] = []
    yield created
    for endpoint_id in created:
        client.delete(f"{API}/webhooks/{endpoint_id}")


@pytest.mark.parametrize("url", SSRF_URLS)
def test_submit_refuses_ssrf_urls(client: httpx.Client, redis_server: RedisServer,
                                  url: str) -> None:
    before = jobs_accepted(redis_server)
    for r in (client.post(f"{API}/sum", json={"number": 1, "callback_url": url}),
              client.post(f"{API}/jobs", json={"function": "sum_to_n_job",
                                               "input": {"number": 1}, "callback_url": url}),
              client.get(f"{API}/wait_and_return", params={"callback_url": url})):
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "BAD_USER_INPUT"
        assert r.json()["message"].startswith("callback_url: ")
    assert jobs_accepted(redis_server) == before


def test_loopback_refusal_names_the_setting_only_in_development(
    client: httpx.Client, redis_server: RedisServer, launch: Launcher,
) -> None:
    """Trying webhooks on one machine: a development gateway's refusal of a loopback
    callback_url says which setting allows it; the session's (ENVIRONMENT=test) does not."""
    body = {"number": 1, "callback_url": "http://127.0.0.1:9000/hook"}
    hint = "(in development, WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8 allows it)"
    r = client.post(f"{API}/sum", json=body)
    assert r.status_code == 422 and "WEBHOOK_ALLOWED_NETWORKS" not in r.text, r.text
    development = launch.gateway(stack_env(redis_server.url, ENVIRONMENT="development"),
                                 require_workers=False)
    with httpx.Client(base_url=development.url, timeout=10) as dev:
        for r in (dev.post(f"{API}/sum", json=body),
                  dev.post(f"{API}/webhooks", json={"url": body["callback_url"]})):
            assert r.status_code == 422, r.text
            assert r.json()["message"].endswith(hint), r.text


@pytest.mark.parametrize("url", SSRF_URLS)
def test_registration_refuses_ssrf_urls(client: httpx.Client, redis_server: RedisServer,
                                        url: str) -> None:
    r = client.post(f"{API}/webhooks", json={"url": url})
    assert r.status_code == 422, r.text
    assert r.json()["message"].startswith("url: ")
    assert redis_server.client().scard(endpoints_key("public")) == 0


@pytest.mark.parametrize(("body", "mentions"), [
    ({}, "url: Field required"),
    ({"url": 42}, "url"),
    ({"url": "ftp://example.com/"}, "scheme"),
    ({"url": "https://example.com/", "events": ["job.done"]}, "unknown event"),
    ({"url": "https://example.com/", "events": ["job.progress", "job.progres"]},
     "unknown event(s) 'job.progres'"),
    ({"url": "https://example.com/", "events": []}, "at least one"),
    ({"url": "https://example.com/", "events": "job.failed"}, "events"),
    ({"url": "https://example.com/", "events": [1]}, "events"),
    ({"url": "https://example.com/", "events": ["job.failed"] * 20}, "events"),
    ({"url": "https://example.com/", "description": "x" * 501}, "description"),
    ({"url": "https://example.com/", "description": 5}, "description"),
    ({"url": "https://example.com/", "secret": "mine"}, "secret"),
    ({"url": "https://example.com/" + "a" * 2100}, "url"),
    ([], "body"),
    ({"url": "https://example.com/", "rate_limit": 0}, "rate_limit"),
    ({"url": "https://example.com/", "rate_limit": -3}, "rate_limit"),
    ({"url": "https://example.com/", "rate_limit": 1001}, "rate_limit"),
    ({"url": "https://example.com/", "rate_limit": 2.5}, "rate_limit"),
    ({"url": "https://example.com/", "rate_limit": "10"}, "rate_limit"),
    ({"url": "https://example.com/", "rate_limit": True}, "rate_limit"),
    ({"url": "https://example.com/", "rate_limit": 10 ** 30}, "rate_limit"),
])
def test_registration_bad_input(client: httpx.Client, redis_server: RedisServer,
                                body: object, mentions: str) -> None:
    r = client.post(f"{API}/webhooks", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "BAD_USER_INPUT" and mentions in r.json()["message"]
    assert redis_server.client().scard(endpoints_key("public")) == 0


def test_registration_malformed_and_oversize(client: httpx.Client) -> None:
    r = client.post(f"{API}/webhooks", content=b'{"url": ', headers={
        "content-type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["message"]
    r = client.post(f"{API}/webhooks", json={"url": "https://example.com/",
                                             "description": "x" * 70_000})
    assert r.status_code == 413


def test_rate_limit_set_changed_and_cleared(client: httpx.Client, endpoints: list[str]) -> None:
    r = client.post(f"{API}/webhooks", json={"url": "https://hooks.example.com/",
                                             "rate_limit": 20})
    assert r.status_code == 201, r.text
    created = r.json()
    endpoints.append(created["id"])
    assert created["rate_limit"] == 20
    assert created["breaker"] == {"state": "closed", "consecutive_failures": 0,
                                  "opened_at": None, "next_probe_at": None}
    where = f"{API}/webhooks/{created['id']}"
    assert client.patch(where, json={"rate_limit": 1000}).json()["rate_limit"] == 1000
    assert client.get(where).json()["rate_limit"] == 1000
    assert client.patch(where, json={"rate_limit": None}).json()["rate_limit"] is None
    for body in ({}, {"rate_limit": 0}, {"rate_limit": 1001}, {"rate_limit": "5"},
                 {"rate_limit": 5, "url": "https://else.example/"}, [5]):
        r = client.patch(where, json=body)
        assert r.status_code == 422 and r.json()["error"] == "BAD_USER_INPUT", (body, r.text)
    assert client.get(where).json()["rate_limit"] is None  # nothing half-written


@pytest.mark.parametrize(("method", "path"), [
    ("PATCH", "/webhooks/wh_00000000000000000000000000000000"),
    ("PATCH", "/webhooks/nope"),
    ("GET", "/webhooks/wh_00000000000000000000000000000000"),
    ("GET", "/webhooks/nope"),
    ("DELETE", "/webhooks/wh_00000000000000000000000000000000"),
    ("POST", "/webhooks/nope/rotate-secret"),
    ("POST", "/webhooks/wh_00000000000000000000000000000000/enable"),
    ("GET", "/deliveries/msg_00000000000000000000000000000000"),
    ("GET", "/deliveries/../../etc"),
    ("POST", "/deliveries/msg_00000000000000000000000000000000/redeliver"),
    ("POST", "/deliveries/x/redeliver"),
    ("GET", "/jobs/00000000-0000-0000-0000-000000000000/deliveries"),
    ("GET", "/jobs/not-a-job/deliveries"),
])
def test_unknown_ids_are_404(client: httpx.Client, method: str, path: str) -> None:
    r = client.request(method, API + path, json={"rate_limit": 5} if method == "PATCH" else None)
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "NOT_FOUND"


def test_secret_is_shown_once(client: httpx.Client, endpoints: list[str]) -> None:
    r = client.post(f"{API}/webhooks", json={
        "url": "https://hooks.example.com/jobs", "events": ["job.failed", "job.succeeded"],
        "description": "billing"})
    assert r.status_code == 201, r.text
    created = r.json()
    endpoints.append(created["id"])
    secret = created["secret"]
    assert secret.startswith("whsec_") and created["enabled"] is True
    assert created["events"] == ["job.succeeded", "job.failed"] and not created["all_events"]
    listed = client.get(f"{API}/webhooks").json()
    assert [e["id"] for e in listed] == [created["id"]]
    one = client.get(f"{API}/webhooks/{created['id']}").json()
    for shown in (listed[0], one):
        assert "secret" not in shown and secret not in str(shown)
    rotated = client.post(f"{API}/webhooks/{created['id']}/rotate-secret").json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != secret
    assert rotated["secret_rotated_at"] is not None
    deleted = client.delete(f"{API}/webhooks/{created['id']}")
    assert deleted.status_code == 200 and "secret" not in deleted.json()
    assert client.get(f"{API}/webhooks/{created['id']}").status_code == 404


def test_all_events_by_default(client: httpx.Client, endpoints: list[str]) -> None:
    r = client.post(f"{API}/webhooks", json={"url": "https://hooks.example.com/"})
    assert r.status_code == 201
    endpoints.append(r.json()["id"])
    assert r.json()["all_events"] and "job.cancelled" in r.json()["events"]
    assert "job.progress" not in r.json()["events"]  # many messages a job: only when named


def test_progress_is_an_event_to_name(client: httpx.Client, endpoints: list[str]) -> None:
    r = client.post(f"{API}/webhooks", json={"url": "https://hooks.example.com/",
                                             "events": ["job.succeeded", "job.progress"]})
    assert r.status_code == 201, r.text
    endpoints.append(r.json()["id"])
    assert r.json()["events"] == ["job.succeeded", "job.progress"]
    assert not r.json()["all_events"]


def test_deliveries_of_a_job_without_webhooks_is_empty(client: httpx.Client) -> None:
    job_id = submit_sum(client, 3)
    wait_for_status(client, job_id)
    r = client.get(f"{API}/jobs/{job_id}/deliveries")
    assert r.status_code == 200 and r.json() == []


# --- dead ends: URLs no client sends to, one endpoint per URL ------------------------------

NEVER_SENDABLE = ["http://999.1.1.1/", "http://1.2.3.4.5/", "http://hooks.example.123/",
                  "http://0x7f.0x1.0x2.0x3.0x4:8080/"]


@pytest.mark.parametrize("url", NEVER_SENDABLE)
def test_hosts_no_client_sends_to_are_refused_at_submit_and_registration(
    client: httpx.Client, redis_server: RedisServer, url: str,
) -> None:
    before = jobs_accepted(redis_server)
    for r, field in ((client.post(f"{API}/sum", json={"number": 1, "callback_url": url}),
                      "callback_url"),
                     (client.post(f"{API}/webhooks", json={"url": url}), "url")):
        assert r.status_code == 422, r.text
        assert r.json()["message"] == f"{field}: not a valid IPv4 address: " \
            f"{url.split('/')[2].rsplit(':', 1)[0]!r}"
        assert r.json()["detail"][0]["type"] == "url_malformed"
    assert jobs_accepted(redis_server) == before
    assert redis_server.client().scard(endpoints_key("public")) == 0


@pytest.mark.parametrize(("url", "address"), [
    ("http://2130706434:8080/", "127.0.0.2"), ("http://0x7f.1:8080/", "127.0.0.1"),
    ("http://017700000001:8080/", "127.0.0.1"),
])
def test_numeric_hosts_are_checked_as_the_address_they_are(
    client: httpx.Client, url: str, address: str,
) -> None:
    """The session's gateway allows no private network: the decimal, hex and octal forms
    of loopback are refused, and the message names the address in its usual form."""
    r = client.post(f"{API}/sum", json={"number": 1, "callback_url": url})
    assert r.status_code == 422, r.text
    assert r.json()["message"] == f"callback_url: the address {address} is refused: loopback"


def test_callback_url_is_stored_in_canonical_form(client: httpx.Client) -> None:
    """8.8.8.8 written five ways is one URL; the job shows (and webhooks go to) that one.
    (The session's stack has no dispatcher: nothing is sent.)"""
    for written in ("http://134744072/hook", "http://0x8080808/hook",
                    "http://010.010.010.010/hook", "http://8.8.2056/hook",
                    "http://8.8.8.8:80/hook#fragment"):
        r = client.post(f"{API}/jobs", json={"function": "sum_to_n_job", "input": {"number": 1},
                                              "callback_url": written})
        assert r.status_code in (200, 201, 202), r.text
        assert client.get(f"{API}/jobs/{r.json()['id']}").json()["callback_url"] == \
            "http://8.8.8.8/hook"


def test_one_endpoint_per_url(client: httpx.Client, endpoints: list[str]) -> None:
    r = client.post(f"{API}/webhooks", json={"url": "https://Hooks.Example.com:443/jobs"})
    assert r.status_code == 201, r.text
    first = r.json()["id"]
    endpoints.append(first)
    assert r.json()["url"] == "https://hooks.example.com/jobs"
    for again in ("https://hooks.example.com/jobs", "HTTPS://HOOKS.EXAMPLE.COM./jobs#x"):
        r = client.post(f"{API}/webhooks", json={"url": again, "events": ["job.failed"]})
        assert r.status_code == 409, r.text
        assert r.json()["error"] == "CONFLICT" and r.json()["existing_id"] == first
        assert first in r.json()["message"] and "secret" not in r.json()
    other = client.post(f"{API}/webhooks", json={"url": "https://hooks.example.com/jobs/"})
    assert other.status_code == 201, other.text  # another path is another URL
    endpoints.append(other.json()["id"])
    assert [e["id"] for e in client.get(f"{API}/webhooks").json()] == [first, other.json()["id"]]
    assert client.delete(f"{API}/webhooks/{first}").status_code == 200
    free = client.post(f"{API}/webhooks", json={"url": "https://hooks.example.com/jobs"})
    assert free.status_code == 201, free.text
    endpoints.append(free.json()["id"])
