"""Several gateway processes (GATEWAY_PROCESSES=3) behind NGINX, through the real `make up`.

Requests through NGINX reach every process (its access log names the upstream that
answered). Whatever a client does on one process holds on any other, because every piece
of state is in Redis: a subscription on one process follows a job submitted on a second
and cancelled on a third; express-lane submits are polled on another process; an
Idempotency-Key used on one is known to the others; the rate limit is one bucket for all;
/metrics shows the same totals whichever process answers. Ctrl-C stops every process in
the first stage, none killed, each closing its open subscriptions as it shuts down.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from gateway.services.metrics_flush import FLUSH_SECONDS
from infra import stack
from tasks.settings import Settings
from tests.support.graphql_helpers import JOB_UPDATED, SUBMIT_WAIT
from tests.support.helpers import metric, wait_for_status
from tests.support.make_up import READY_TIMEOUT, STOP_TIMEOUT, MakeUp, stack_environment
from tests.support.make_up import stopped_in_order as check_stopped_in_order
from tests.support.servers import wait_until

PROCESSES = 3
KEY = "gateways-key-0123456789abcdef"
RATED_KEY = "rated-key-0123456789abcdef"  # a tenant of its own, for the rate limit test
BURST = 1000  # RATE_LIMIT_BURST: the bucket of each tenant; it refills at 0.01 per second
LOGIN = ("ops", "gateways-test-password")
API = "/producer/api"

pytestmark = pytest.mark.timeout(READY_TIMEOUT + STOP_TIMEOUT + 300)


class Gateways:
    def __init__(self, run: MakeUp, settings: Settings, run_dir: Path) -> None:
        self.run, self.settings, self.run_dir = run, settings, run_dir
        self.addresses = stack.gateway_addresses(settings)

    def nginx(self, key: str = KEY) -> httpx.Client:
        return httpx.Client(base_url=stack.nginx_url(self.settings), timeout=15,
                            headers={"X-API-Key": key})

    def process(self, index: int) -> httpx.Client:
        """A client of one gateway process, on its own port."""
        return httpx.Client(base_url=f"http://{self.addresses[index]}", timeout=15,
                            headers={"X-API-Key": KEY})

    def upstreams(self) -> list[dict[str, Any]]:
        """NGINX's access log lines so far, each naming the process that answered."""
        log = self.run_dir / "nginx" / "logs" / "access.log"
        return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateways]:
    tmp = tmp_path_factory.mktemp("gateways")
    env, settings = stack_environment(
        tmp / "run", GATEWAY_PROCESSES=str(PROCESSES),
        API_KEYS=f"main:{KEY},rated:{RATED_KEY}", RATE_LIMIT_PER_SECOND="0.01",
        RATE_LIMIT_BURST=str(BURST), WORKER_SHUTDOWN_GRACE_SECONDS="2",
        FLOWER_BASIC_AUTH=":".join(LOGIN))
    run = MakeUp(env, tmp / "make-up.log")
    try:
        run.start()
        yield Gateways(run, settings, tmp / "run")
    finally:
        run.kill()


def test_make_up_runs_and_waits_for_every_process(gateways: Gateways) -> None:
    assert len(gateways.addresses) == PROCESSES
    names = {name for name, _ in gateways.run.lines()}
    assert {f"gateway-{i}" for i in range(1, PROCESSES + 1)} <= names
    assert f"{PROCESSES} gateway processes behind NGINX" in gateways.run.output()
    for index in range(PROCESSES):
        with gateways.process(index) as client:
            assert client.get("/healthz").status_code == 200


def test_requests_through_nginx_reach_every_process(gateways: Gateways) -> None:
    before = len(gateways.upstreams())
    with gateways.nginx() as client:  # one kept-alive connection to NGINX
        for n in range(60):
            assert client.post(f"{API}/sum", json={"number": n}).status_code == 200
    lines = [line for line in gateways.upstreams()[before:] if line["uri"] == f"{API}/sum"]
    spread = Counter(line["upstream"] for line in lines)
    print(f"60 submits through NGINX: {dict(spread)}")
    assert set(spread) == set(gateways.addresses)
    assert min(spread.values()) >= 60 // PROCESSES // 2, spread  # least_conn: about even


def test_a_subscription_follows_a_job_submitted_and_cancelled_on_other_processes(
        gateways: Gateways) -> None:
    with gateways.process(1) as second:  # GraphQL submit on the second process
        body = second.post("/graphql", json={"query": SUBMIT_WAIT, "variables": {"s": 30}})
        job_id = body.json()["data"]["submitWaitAndReturn"]["id"]

    def cancel_once_started(event: dict[str, Any]) -> None:
        if event["status"] == "STARTED":
            with gateways.process(2) as third:  # REST cancel on the third
                assert third.delete(f"{API}/jobs/{job_id}").status_code == 200

    seen = asyncio.run(follow(f"ws://{gateways.addresses[0]}/graphql", job_id,
                              cancel_once_started))
    statuses = [event["status"] for event in seen]
    assert statuses[-1] == "CANCELLED" and "STARTED" in statuses, statuses


async def follow(url: str, job_id: str, on_event: Any = None, within: float = 60
                 ) -> list[dict[str, Any]]:
    """jobUpdated over graphql-transport-ws until the subscription completes."""
    events: list[dict[str, Any]] = []
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as socket:
        await socket.send(json.dumps({"type": "connection_init",
                                      "payload": {"X-API-Key": KEY}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": JOB_UPDATED, "variables": {"id": job_id}}}))
        async with asyncio.timeout(within):
            while (message := json.loads(await socket.recv()))["type"] == "next":
                event = message["payload"]["data"]["jobUpdated"]
                events.append(event)
                if on_event is not None:
                    await asyncio.to_thread(on_event, event)
        assert message["type"] == "complete", message
    return events


def test_express_lane_submits_poll_on_other_processes_and_count_once(
        gateways: Gateways) -> None:
    time.sleep(2 * FLUSH_SECONDS)  # the other tests' counts are in Redis by now
    with gateways.nginx() as client:
        before = client.get("/metrics", auth=LOGIN).text
    clients = [gateways.process(i) for i in range(PROCESSES)]
    try:
        ids = {}
        for n in range(1, 31):
            r = clients[n % PROCESSES].post(f"{API}/sum", json={"number": n})
            assert r.status_code == 200, r.text
            ids[r.json()["job_id"]] = n
        for count, (job_id, n) in enumerate(ids.items()):
            poller = clients[(count + 1) % PROCESSES]  # never the process that took it
            wait_for_status(poller, job_id)
            answer = poller.get(f"{API}/sum/{job_id}").json()
            assert answer["ready"] and answer["result"] == n * (n + 1) // 2, answer
    finally:
        for client in clients:
            client.close()

    def grew(name: str, text: str, **labels: str) -> float:
        return metric(text, name, **labels) - metric(before, name, **labels)

    def counted() -> bool:
        """Every process's counts in Redis: each flushes within FLUSH_SECONDS."""
        with gateways.nginx() as client:
            text = client.get("/metrics", auth=LOGIN).text
        return (grew("gateway_jobs_submitted_total", text, function="sum_to_n_job") == 30
                and grew("gateway_express_lane_requests_total", text, route="submit") == 30
                and grew("gateway_express_lane_requests_total", text, route="poll") >= 30)

    wait_until(counted, 10, "the 30 submits and their polls in /metrics through NGINX")
    totals = set()  # the same from every process
    for index in range(PROCESSES):
        with gateways.process(index) as client:
            text = client.get("/metrics", auth=LOGIN).text
        totals.add((metric(text, "gateway_jobs_submitted_total", function="sum_to_n_job"),
                    metric(text, "gateway_express_lane_requests_total", route="submit")))
    assert len(totals) == 1, totals


def test_an_idempotency_key_is_known_to_every_process(gateways: Gateways) -> None:
    headers = {"Idempotency-Key": f"gateways-{time.time_ns()}"}
    with gateways.process(0) as first, gateways.process(1) as second, \
            gateways.process(2) as third:
        made = first.post(f"{API}/sum", json={"number": 5}, headers=headers)
        again = second.post(f"{API}/sum", json={"number": 5}, headers=headers)
        other = third.post(f"{API}/sum", json={"number": 6}, headers=headers)
    assert made.status_code == again.status_code == 200
    assert made.json()["job_id"] == again.json()["job_id"]
    assert other.status_code == 409 and made.json()["job_id"] in other.json()["message"]


def test_the_rate_limit_is_one_bucket_for_every_process(gateways: Gateways) -> None:
    """RATE_LIMIT_BURST tokens for the tenant, whichever process takes them: three buckets
    (one per process) would let every call of the run through."""
    before = len(gateways.upstreams())
    started = time.monotonic()
    with gateways.nginx(RATED_KEY) as client:
        job_id = client.post(f"{API}/sum", json={"number": 1}).json()["job_id"]
        answers = Counter(client.get(f"{API}/sum/{job_id}").status_code
                          for _ in range(BURST + 99))
    refill = (time.monotonic() - started) * 0.01
    assert answers[200] + 1 >= BURST and answers[200] + 1 <= BURST + 1 + refill, answers
    assert answers[429] >= 99 - refill and set(answers) == {200, 429}, answers
    refused = {line["upstream"] for line in gateways.upstreams()[before:]
               if line["status"] == 429}
    assert refused == set(gateways.addresses)


def test_ctrl_c_stops_every_gateway_and_closes_a_subscription(gateways: Gateways) -> None:
    with gateways.nginx() as client:
        job_id = client.post(f"{API}/wait_and_return", json={"seconds": 60}).json()["job_id"]
        wait_for_status(client, job_id, {"STARTED"})
    outcome: list[BaseException | list[dict[str, Any]]] = []
    ready = threading.Event()

    def watch() -> None:
        try:
            outcome.append(asyncio.run(follow(f"ws://{gateways.addresses[1]}/graphql", job_id,
                                              lambda _event: ready.set(), within=120)))
        except BaseException as exc:  # the close is what this test wants to see
            outcome.append(exc)
            ready.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert ready.wait(30), "the subscription did not start"
    seconds = gateways.run.ctrl_c()
    watcher.join(30)
    print(f"\nCtrl-C with {PROCESSES} gateways and an open subscription: make up exited "
          f"after {seconds:.1f} s")
    check_stopped_in_order(gateways.run, gateways.settings)
    # Closed by the gateway as it shut down (1012, service restart), not cut off (1006).
    assert len(outcome) == 1 and isinstance(outcome[0], ConnectionClosed), outcome
    assert outcome[0].rcvd is not None and outcome[0].rcvd.code == 1012, outcome[0]
