"""Small helpers the tests share."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalized(response: httpx.Response) -> tuple[int, str, str]:
    """Status, content type and body, with job ids replaced (each submit makes a new one):
    for comparing two ways of answering the same request."""
    return (response.status_code, response.headers.get("content-type", ""),
            UUID.sub("<id>", response.text))


def job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    r = client.get(f"/producer/api/jobs/{job_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def wait_for_status(
    client: httpx.Client, job_id: str, statuses: set[str] | None = None, timeout: float = 30
) -> dict[str, Any]:
    """Poll the job record until its status is in `statuses` (default: any terminal)."""
    wanted = statuses or TERMINAL
    deadline = time.monotonic() + timeout
    record = job(client, job_id)
    while record["status"] not in wanted:
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {record['status']} after {timeout} s")
        time.sleep(0.05)
        record = job(client, job_id)
    return record


def submit_sum(client: httpx.Client, number: int, **extra: Any) -> str:
    r = client.post("/producer/api/sum", json={"number": number, **extra})
    assert r.status_code == 200, r.text
    job_id: str = r.json()["job_id"]
    return job_id


def submit_wait(client: httpx.Client, seconds: float) -> str:
    r = client.post("/producer/api/wait_and_return", json={"seconds": seconds})
    assert r.status_code == 200, r.text
    job_id: str = r.json()["job_id"]
    return job_id


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text page (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" (\S+)"
    match = re.search(r"^" + pattern + r"$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def prometheus_text(families: Iterable[Metric]) -> str:
    """Prometheus text of these families, as /metrics renders what it read from Redis."""
    snapshot = list(families)

    class Snapshot:
        def collect(self) -> list[Metric]:
            return snapshot

    registry = CollectorRegistry()
    registry.register(Snapshot())
    return generate_latest(registry).decode()


def fresh_path() -> str:
    """A fresh receiver path per test, so each test sees only its own requests."""
    return f"/{uuid.uuid4().hex[:12]}"


@contextmanager
def registered_endpoints(client: httpx.Client) -> Iterator[Callable[..., dict[str, Any]]]:
    """Register webhook endpoints with `client` (make(url, **fields) -> the answer); they are
    deleted at the end (they get every job's events, so they must not outlive a test)."""
    created: list[str] = []

    def make(url: str, **extra: Any) -> dict[str, Any]:
        r = client.post("/producer/api/webhooks", json={"url": url, **extra})
        assert r.status_code == 201, r.text
        created.append(r.json()["id"])
        body: dict[str, Any] = r.json()
        return body

    try:
        yield make
    finally:
        for endpoint_id in created:
            client.delete(f"/producer/api/webhooks/{endpoint_id}")
