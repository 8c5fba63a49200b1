"""Load for the job gateway, sent through NGINX (`--host http://<nginx>`).

User classes (pick some by name on the command line, or LOAD_USER_CLASSES for `make load`):
- ReferenceUser: the reference project's load: POST /producer/api/sum with a number from
  1,000,000 to 50,000,000 (a CPU-bound job of up to ~3 s), then poll GET
  /producer/api/sum/{id} until it is ready.
- GraphQLUser: mutation submitSum, then query job(id) until it ends.
- WebhookUser: a job with a callback_url pointing at a small receiver this process runs;
  once the job ends, waits for the webhook to arrive ("WEBHOOK callback received"). Where
  the webhook dispatcher is not part of the code (worker.webhooks.dispatcher), delivery is not
  expected and only the REST round trip is measured.

Every job is also reported as one "JOB <user> round trip" entry (submit to final status),
and a job that fails, returns a wrong result or does not finish within
JOB_DEADLINE_SECONDS counts as a failed request.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import gevent
from gevent.event import Event
from gevent.pywsgi import WSGIServer
from locust import HttpUser, between, events, task
from locust.env import Environment
from locust.runners import MasterRunner

log = logging.getLogger("loadtest")

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"})
JOB_DEADLINE_SECONDS = 120.0  # generous: big sums queue behind each other on small hosts
POLL_SECONDS = 0.5
WEBHOOK_WAIT_SECONDS = 30.0


def available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


GRAPHQL_AVAILABLE = available("gateway.graphql")
WEBHOOKS_DELIVERED = available("worker.webhooks.dispatcher")


def expected_sum(number: int) -> int:
    return number * (number + 1) // 2


def report(name: str, started: float, error: str | None = None, kind: str = "JOB",
           ended: float | None = None) -> None:
    """A custom Locust entry: `started` and `ended` are time.monotonic() stamps."""
    events.request.fire(request_type=kind, name=name,
                        response_time=((ended or time.monotonic()) - started) * 1000,
                        response_length=0, context={},
                        exception=None if error is None else RuntimeError(error))


# --- the webhook receiver --------------------------------------------------------------


class Receiver:
    """A tiny HTTP server in this Locust process: POST /hook/<token> marks <token> as
    delivered."""

    def __init__(self) -> None:
        self.waiting: dict[str, Event] = {}
        self.arrived: dict[str, float] = {}  # token -> time.monotonic() of the delivery
        self.base_url = ""
        self.server: WSGIServer | None = None

    def app(self, environ: dict[str, Any],
            start_response: Callable[[str, list[tuple[str, str]]], Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "POST" and path.startswith("/hook/"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            environ["wsgi.input"].read(min(length, 1 << 20))
            token = path.removeprefix("/hook/")
            event = self.waiting.get(token)
            if event is not None:
                self.arrived.setdefault(token, time.monotonic())
                event.set()
            start_response("204 No Content", [])
            return [b""]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    def start(self, target_host: str) -> None:
        """Listen on loopback when the target is local, else on every interface with this
        host's address in the callback URLs (e.g. a Locust container)."""
        hostname = urlsplit(target_host).hostname or "127.0.0.1"
        try:
            local = hostname == "localhost" or ipaddress.ip_address(hostname).is_loopback
        except ValueError:
            local = False
        bind = "127.0.0.1" if local else "0.0.0.0"
        self.server = WSGIServer((bind, 0), self.app, log=None)
        self.server.start()
        advertised = "127.0.0.1" if local else socket.gethostbyname(socket.gethostname())
        self.base_url = f"http://{advertised}:{self.server.server_port}"
        log.info("webhook receiver on %s", self.base_url)

    def expect(self) -> tuple[str, Event]:
        token = uuid.uuid4().hex
        event = self.waiting[token] = Event()
        return token, event

    def forget(self, token: str) -> None:
        self.waiting.pop(token, None)
        self.arrived.pop(token, None)


RECEIVER = Receiver()


@events.init.add_listener
def on_init(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        return  # users (and callbacks) live in the workers
    RECEIVER.start(environment.host or "http://127.0.0.1")
    if not WEBHOOKS_DELIVERED:
        log.warning("worker.webhooks.dispatcher is not part of this code: WebhookUser measures the "
                    "REST round trip only, no delivery is expected")


# --- polling ---------------------------------------------------------------------------


def poll_rest(user: HttpUser, path: str, name: str, number: int, started: float) -> bool:
    """Poll a reference poll route until the job is ready; check its result."""
    deadline = started + JOB_DEADLINE_SECONDS
    while True:
        with user.client.get(path, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
                return False
            body = response.json()
            if body.get("ready"):
                if body.get("status") != "SUCCEEDED" or body.get("result") != expected_sum(
                        number):
                    response.failure(f"job ended {body.get('status')}: {body}")
                    return False
                return True
        if time.monotonic() > deadline:
            report(name, started, f"job not ready within {JOB_DEADLINE_SECONDS:.0f} s")
            return False
        gevent.sleep(POLL_SECONDS)


def first_api_key() -> str | None:
    """With API keys on (API_KEYS), the load runs as the first configured tenant."""
    for pair in os.environ.get("API_KEYS", "").split(","):
        key = pair.partition(":")[2].strip()
        if key:
            return key
    return None


class GatewayUser(HttpUser):
    abstract = True

    def on_start(self) -> None:
        key = first_api_key()
        if key:
            self.client.headers["Authorization"] = f"Bearer {key}"


class ReferenceUser(GatewayUser):
    """The reference's load: big sums, polled until ready."""

    weight = 2
    wait_time = between(1, 3)

    @task
    def sum_and_poll(self) -> None:
        number = random.randint(1_000_000, 50_000_000)
        started = time.monotonic()
        with self.client.post("/producer/api/sum", json={"number": number},
                              catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
                return
            job_id = response.json()["job_id"]
        if poll_rest(self, f"/producer/api/sum/{job_id}", "/producer/api/sum/[id]",
                     number, started):
            report("ReferenceUser round trip", started)


class GraphQLUser(GatewayUser):
    """GraphQL: submitSum, then job(id) until it ends (not offered where the code has no
    GraphQL endpoint)."""

    abstract = not GRAPHQL_AVAILABLE
    weight = 1
    wait_time = between(1, 3)

    def graphql(self, query: str, name: str) -> dict[str, Any] | None:
        with self.client.post("/graphql", json={"query": query}, name=name,
                              catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
                return None
            body = response.json()
            if body.get("errors") or not body.get("data"):
                response.failure(f"GraphQL errors: {str(body.get('errors'))[:300]}")
                return None
            data: dict[str, Any] = body["data"]
            return data

    @task
    def submit_and_query(self) -> None:
        number = random.randint(1, 100_000)
        started = time.monotonic()
        data = self.graphql(f"mutation {{ submitSum(number: {number}) {{ id }} }}",
                            "graphql submitSum")
        if data is None:
            return
        job_id = data["submitSum"]["id"]
        deadline = started + JOB_DEADLINE_SECONDS
        while True:
            data = self.graphql(f'query {{ job(id: "{job_id}") {{ status result }} }}',
                                "graphql job")
            if data is None:
                return
            job = data["job"]
            status = str(job["status"]).upper()
            if status in TERMINAL:
                if status != "SUCCEEDED" or str(job["result"]) != str(expected_sum(number)):
                    report("GraphQLUser round trip", started, f"job ended {job}")
                else:
                    report("GraphQLUser round trip", started)
                return
            if time.monotonic() > deadline:
                report("GraphQLUser round trip", started,
                       f"job not ready within {JOB_DEADLINE_SECONDS:.0f} s")
                return
            gevent.sleep(POLL_SECONDS)


class WebhookUser(GatewayUser):
    """A job with a callback URL, and the webhook's arrival at our receiver."""

    weight = 1
    wait_time = between(1, 3)

    @task
    def submit_with_callback(self) -> None:
        number = random.randint(1, 100_000)
        token, delivered = RECEIVER.expect()
        started = time.monotonic()
        try:
            with self.client.post(
                "/producer/api/sum", name="/producer/api/sum (callback_url)",
                json={"number": number, "callback_url": f"{RECEIVER.base_url}/hook/{token}"},
                catch_response=True,
            ) as response:
                if response.status_code != 200:
                    response.failure(f"status {response.status_code}: {response.text[:200]}")
                    return
                job_id = response.json()["job_id"]
            if not poll_rest(self, f"/producer/api/sum/{job_id}",
                             "/producer/api/sum/[id] (callback_url)", number, started):
                return
            report("WebhookUser round trip", started)
            if WEBHOOKS_DELIVERED:
                if delivered.wait(WEBHOOK_WAIT_SECONDS):
                    report("callback received", started, kind="WEBHOOK",
                           ended=RECEIVER.arrived.get(token))
                else:
                    report("callback received", started, kind="WEBHOOK", error=(
                        f"no webhook within {WEBHOOK_WAIT_SECONDS:.0f} s of the job's end"))
        finally:
            RECEIVER.forget(token)
