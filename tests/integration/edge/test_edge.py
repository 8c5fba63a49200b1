"""The stack behind NGINX, as a client sees it: every route on one port, the protected
ones, the error shapes NGINX answers itself, request ids end to end, metrics and logs."""

from __future__ import annotations

import base64
import csv
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import redis
import websockets.sync.client
from websockets.typing import Subprotocol

from tasks import metrics
from tests.support.edge import DASHBOARD_PASSWORD, EdgeStack
from tests.support.helpers import metric, wait_for_status
from tests.support.launcher import Launcher
from tests.support.servers import ROOT, wait_until


def json_lines(text: str) -> list[dict[str, object]]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def test_rest_round_trip_through_nginx(edge: EdgeStack) -> None:
    with edge.client() as client:
        assert client.get("/producer/api/").json()["message"].startswith("Hello World")
        r = client.post("/producer/api/sum", json={"number": 1000})
        assert r.status_code == 200, r.text
        job_id = r.json()["job_id"]
        assert wait_for_status(client, job_id)["result"] == 500500
        poll = client.get(f"/producer/api/sum/{job_id}").json()
        assert poll == {"ready": True, "result": 500500, "job_id": job_id,
                        "status": "SUCCEEDED", "error": None}


def test_openapi_docs_work_through_nginx(edge: EdgeStack) -> None:
    with edge.client() as client:
        docs = client.get("/producer/api/docs")
        assert docs.status_code == 200 and "/producer/api/openapi.json" in docs.text
        spec = client.get("/producer/api/openapi.json").json()
        assert "/producer/api/sum" in spec["paths"]


def test_health_is_open(edge: EdgeStack) -> None:
    with edge.client() as client:
        r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["workers"] >= 1


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/metrics",
                                  "/dashboard/healthcheck", "/dashboard/api/workers",
                                  "/load-test/", "/metrics"])
def test_protected_routes_need_the_credentials(edge: EdgeStack, path: str) -> None:
    with edge.client() as client:
        assert client.get(path).status_code == 401
        assert client.get(path, auth=("ops", "wrong")).status_code == 401
        assert client.get(path, auth=("nobody", DASHBOARD_PASSWORD)).status_code == 401
        r = client.get(path, auth=edge.auth)
    assert r.status_code == 200, r.text[:300]


def test_dashboard_is_flower_under_its_prefix(edge: EdgeStack) -> None:
    with edge.client(auth=edge.auth) as client:
        page = client.get("/dashboard/")
        assert "Flower" in page.text and "/dashboard/static/" in page.text
        static = re.search(r'/dashboard/static/[^"\']+\.css', page.text)
        assert static and client.get(static.group(0)).status_code == 200
        # Flower's own Prometheus metrics, behind our auth.
        assert "flower_" in client.get("/dashboard/metrics").text


def test_flower_sees_tasks_with_worker_task_events_off(edge: EdgeStack) -> None:
    """WORKER_TASK_EVENTS is off by default; Flower turns the workers' events on while it
    runs (its enable_events option), so its task view still fills."""
    with edge.client(auth=edge.auth) as client:
        job_ids: list[str] = []

        def listed() -> bool:
            # A new job each time: the first ones may run before Flower turned events on.
            job = client.post("/producer/api/sum", json={"number": 4})
            job_ids.append(job.json()["job_id"])
            tasks = client.get("/dashboard/api/tasks").text
            return any(job_id in tasks for job_id in job_ids)

        wait_until(listed, 30, "Flower listing a task")


def test_load_test_is_locust_under_its_prefix(edge: EdgeStack) -> None:
    with edge.client(auth=edge.auth) as client:
        page = client.get("/load-test/")
        assert page.status_code == 200 and "locust" in page.text.lower()
        # Its assets are relative (./assets/...), so they resolve under /load-test/.
        assets = re.findall(r'(?:src|href)="\./(assets/[^"]+)"', page.text)
        assert assets, page.text[:500]
        for asset in assets[:4]:
            assert client.get("/load-test/" + asset).status_code == 200, asset


@pytest.mark.parametrize(("bare", "target"), [("/dashboard", "/dashboard/"),
                                              ("/load-test", "/load-test/"),
                                              ("/producer/api", "/producer/api/")])
def test_bare_prefixes_redirect_to_the_slash(edge: EdgeStack, bare: str, target: str) -> None:
    with edge.client() as client:
        r = client.get(bare)
    assert r.status_code == 301 and r.headers["location"] == target


def test_unknown_route_is_a_json_404(edge: EdgeStack) -> None:
    with edge.client() as client:
        r = client.get("/no/such/route")
    assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND"


def test_body_over_the_limit_is_a_json_413_from_nginx(edge: EdgeStack) -> None:
    assert edge.settings is not None
    limit = edge.settings.max_body_bytes
    with edge.client() as client:
        r = client.post("/producer/api/sum", content=b"x" * (limit + 1),
                        headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert r.json()["error"] == "PAYLOAD_TOO_LARGE" and str(limit) in r.json()["message"]
        # At the limit NGINX passes it on, and the gateway judges the (bad) JSON.
        r = client.post("/producer/api/sum", content=b" " * limit,
                        headers={"content-type": "application/json"})
        assert r.status_code == 422


def test_request_id_is_passed_on_logged_and_echoed(edge: EdgeStack) -> None:
    request_id = f"edge-test-{uuid.uuid4().hex[:12]}"
    with edge.client() as client:
        r = client.post("/producer/api/sum", json={"number": 7},
                        headers={"X-Request-ID": request_id})
        assert r.headers.get_list("x-request-id") == [request_id]  # once, not twice
        job_id = r.json()["job_id"]
        wait_for_status(client, job_id)

    def logged() -> bool:
        logs = edge.logs()
        return (request_id in logs["edge-gateway"] and request_id in logs["edge-worker"]
                and request_id in logs["nginx-access"])

    wait_until(logged, 15, "the request id in every log")
    logs = edge.logs()
    request_line = next(line for line in json_lines(logs["edge-gateway"])
                        if line.get("request_id") == request_id)
    assert request_line["method"] == "POST" and request_line["path"] == "/producer/api/sum"
    assert request_line["status"] == 200 and isinstance(request_line["duration_ms"], float)
    transitions = [line for line in json_lines(logs["edge-worker"])
                   if line.get("event") == "job.transition" and line["job_id"] == job_id]
    assert [t["status"] for t in transitions] == ["STARTED", "SUCCEEDED"]
    assert all(t["request_id"] == request_id and t["function"] == "sum_to_n_job"
               and t["attempts"] == 1 for t in transitions)


@pytest.mark.parametrize("sent", [None, "", "x" * 129, "bad id with spaces", "é".encode(),
                                  '{"a":1}', "id\\n"])
def test_missing_or_odd_request_ids_are_replaced(
    edge: EdgeStack, sent: str | bytes | None
) -> None:
    headers = {} if sent is None else {"X-Request-ID": sent}
    with edge.client() as client:
        first = client.get("/producer/api/", headers=headers).headers["x-request-id"]
        second = client.get("/producer/api/", headers=headers).headers["x-request-id"]
    assert first != sent and re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", first)
    assert first != second


def test_metrics_count_jobs_by_function_and_status(edge: EdgeStack) -> None:
    with edge.client() as client:
        before = client.get("/metrics", auth=edge.auth).text
        ids = [client.post("/producer/api/sum", json={"number": n}).json()["job_id"]
               for n in (10, 20, 30)]
        for job_id in ids:
            wait_for_status(client, job_id)
        slow = client.post("/producer/api/wait_and_return", json={"seconds": 20}).json()
        assert client.delete(f"/producer/api/jobs/{slow['job_id']}").status_code == 200

        def counted() -> bool:
            text = client.get("/metrics", auth=edge.auth).text
            return metric(text, "gateway_jobs_finished_total", function="sum_to_n_job",
                          status="SUCCEEDED") - metric(
                before, "gateway_jobs_finished_total", function="sum_to_n_job",
                status="SUCCEEDED") >= 3

        wait_until(counted, 15, "the finished jobs in /metrics")
        after = client.get("/metrics", auth=edge.auth)
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    delta = {name: metric(text, name, **labels) - metric(before, name, **labels)
             for name, labels in [
                 ("gateway_jobs_submitted_total", {"function": "sum_to_n_job"}),
                 ("gateway_job_run_seconds_count", {"function": "sum_to_n_job"}),
             ]}
    assert delta == {"gateway_jobs_submitted_total": 3, "gateway_job_run_seconds_count": 3}
    assert metric(text, "gateway_jobs_finished_total", function="wait_and_return",
                  status="CANCELLED") >= 1
    assert metric(text, "gateway_workers_alive") >= 1
    assert metric(text, "gateway_redis_up") == 1
    assert re.search(r'^gateway_queue_depth\{queue="celery"\} \d', text, re.MULTILINE)
    assert re.search(r'^gateway_http_requests_total\{method="POST",status="200"\}', text,
                     re.MULTILINE)


def test_webhook_metrics_counted_in_redis_show_in_metrics(edge: EdgeStack) -> None:
    """The path the webhook dispatcher uses: tasks.metrics.record() in its own process."""
    client = redis.Redis.from_url(edge.redis_url)
    with edge.client(auth=edge.auth) as http:
        before = http.get("/metrics").text
        metrics.record(client, metrics.WEBHOOK_ATTEMPTS.inc("delivered"),
                       metrics.WEBHOOK_ATTEMPTS.inc("retry"),
                       metrics.WEBHOOK_DELIVERY_SECONDS.observe(0.3))
        after = http.get("/metrics").text
    for name, labels, grew in [
        ("gateway_webhook_attempts_total", {"outcome": "delivered"}, 1),
        ("gateway_webhook_attempts_total", {"outcome": "retry"}, 1),
        ("gateway_webhook_delivery_seconds_bucket", {"le": "0.25"}, 0),
        ("gateway_webhook_delivery_seconds_bucket", {"le": "0.5"}, 1),
        ("gateway_webhook_delivery_seconds_bucket", {"le": "+Inf"}, 1),
        ("gateway_webhook_delivery_seconds_count", {}, 1),
    ]:
        assert metric(after, name, **labels) - metric(before, name, **labels) == grew, name


def test_every_gateway_log_line_is_json(edge: EdgeStack) -> None:
    with edge.client() as client:
        client.get("/producer/api/")
    lines = [line for line in edge.logs()["edge-gateway"].splitlines() if line.strip()]
    # Python's own warnings go to stderr as text; everything logged is one JSON object.
    logged = [line for line in lines if not line.startswith((" ", "/"))]
    assert logged and all(line.startswith("{") and json.loads(line) for line in logged)
    assert not any(json.loads(line).get("logger") == "uvicorn.access" for line in logged)


def test_graphql_websocket_upgrade_through_nginx(edge: EdgeStack) -> None:
    """NGINX passes the WebSocket upgrade and the Host header that Strawberry's origin
    check wants; an idle subscription socket stays open."""
    url = edge.url.replace("http://", "ws://") + "/graphql"
    with websockets.sync.client.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")],
                                        open_timeout=15) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(ws.recv(timeout=15))["type"] == "connection_ack"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": "mutation { submitSum(number: 3) { id } }"}}))
        reply = json.loads(ws.recv(timeout=15))
        assert reply["type"] == "next" and reply["payload"]["data"]["submitSum"]["id"]


def test_no_secret_reaches_any_log(edge: EdgeStack) -> None:
    """The Redis password and the dashboard password (also as the Authorization header a
    browser sends) appear in no log of the stack, after requests that carried them."""
    authorization = base64.b64encode(f"{edge.auth[0]}:{edge.auth[1]}".encode()).decode()
    with edge.client() as client:
        client.get("/dashboard/", auth=edge.auth)
        client.get("/metrics", auth=edge.auth)
        client.get("/load-test/", auth=("ops", DASHBOARD_PASSWORD + "-wrong"))
        job_id = client.post("/producer/api/sum", json={"number": 5}).json()["job_id"]
        wait_for_status(client, job_id)
        last = uuid.uuid4().hex  # a request id to find the last of these requests by
        client.get("/producer/api/", headers={"X-Request-ID": last})

    def logged() -> bool:
        """The logs that record these requests have their last line about them (the
        gateway writes its lines in order, in batches)."""
        logs = edge.logs()
        return (last in logs.get("edge-gateway", "") and last in logs.get("nginx-access", "")
                and f"job {job_id} SUCCEEDED" in logs.get("edge-worker", ""))

    wait_until(logged, 15, "the services to log these requests")
    logs = edge.logs()
    assert {"edge-gateway", "edge-worker", "edge-flower", "edge-locust", "edge-nginx",
            "nginx-access"} <= set(logs)
    assert edge.redis_password
    for secret in (edge.redis_password, DASHBOARD_PASSWORD, authorization):
        leaks = [name for name, text in logs.items() if secret in text]
        assert not leaks, f"a secret is in the logs of {leaks}"


def test_nginx_error_is_json_503_when_an_upstream_is_down(launch: Launcher) -> None:
    """Without a gateway behind it, NGINX answers in the gateway's error shape."""
    from infra import nginx_conf
    from tests.support.servers import ARTIFACTS, free_port

    runtime = ARTIFACTS / "nginx-down"
    port = free_port()
    nginx_conf.write_local(runtime, {
        "GATEWAY_SERVERS": nginx_conf.gateway_servers([f"127.0.0.1:{free_port()}"]),
        "FLOWER_UPSTREAM": f"127.0.0.1:{free_port()}",
        "LOCUST_UPSTREAM": f"127.0.0.1:{free_port()}",
        "NGINX_LISTEN": f"127.0.0.1:{port}", "NGINX_MAX_BODY_BYTES": "1024",
        "NGINX_ACCESS_LOG": "logs/access.log"}, "a:b")
    launch.service("nginx-down", ["/bin/sh", "-c", "exec " + nginx_conf.command(runtime)], {})
    def answers() -> bool:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return True
        except httpx.HTTPError:
            return False

    wait_until(answers, 15, "nginx")
    r = httpx.get(f"http://127.0.0.1:{port}/producer/api/sum/x", timeout=5)
    assert r.status_code == 503 and r.json()["error"] == "UNAVAILABLE"
    assert r.headers["retry-after"] == "5" and r.headers["x-request-id"]


def test_locustfile_runs_headless_through_nginx(edge: EdgeStack, tmp_path: Path) -> None:
    """A short `make load`-style run of the project's locustfile against the stack: the
    reference load and the webhook user, with no failed request."""
    argv = [sys.executable, "-m", "locust", "-f", str(ROOT / "infra" / "locustfile.py"),
            "--headless", "--only-summary", "--users", "2", "--spawn-rate", "2",
            "--run-time", "6s", "--stop-timeout", "60", "--host", edge.url,
            "--csv", str(tmp_path / "run"), "ReferenceUser", "WebhookUser"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with (tmp_path / "run_stats.csv").open() as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    assert int(rows["/producer/api/sum"]["Request Count"]) >= 1
    assert int(rows["/producer/api/sum (callback_url)"]["Request Count"]) >= 1
