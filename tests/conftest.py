"""Session-wide real servers: one redis-server, one Celery worker, one gateway.

Tests that stop or kill a server build their own with the factories in tests/servers.py.

With CI=true a test that skips or xfails (a missing browser, RabbitMQ, envsubst...) fails
instead, with the reason: a green CI means every test ran and passed.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator

import httpx
import pytest

from tests.edge import EdgeStack
from tests.servers import Gateway, RedisServer, Service, stack_env, start_worker

STRICT = os.environ.get("CI", "").lower() in {"true", "1", "yes"}


def _must_run(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Under CI, turn a skipped or xfailed outcome into a failure that gives the reason."""
    if not (STRICT and report.skipped):
        return
    if hasattr(report, "wasxfail"):
        reason = f"xfailed: {report.wasxfail or 'no reason given'}"
        del report.wasxfail
    elif isinstance(report.longrepr, tuple):  # (path, line, "Skipped: reason")
        reason = "was skipped: " + report.longrepr[2].removeprefix("Skipped: ")
    else:
        reason = f"was skipped: {report.longrepr}"
    report.outcome = "failed"
    report.longrepr = f"CI=true: every test must run, but this one {reason}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport() -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    _must_run(report)
    return report


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_make_collect_report() -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    _must_run(report)
    return report


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of the module's own, for tests that count what is in it."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def env(redis_server: RedisServer) -> dict[str, str]:
    return stack_env(redis_server.url)


@pytest.fixture(scope="session")
def worker(env: dict[str, str]) -> Iterator[Service]:
    service = start_worker(env)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def gateway(env: dict[str, str], worker: Service) -> Iterator[Gateway]:
    service = Gateway(env).start()
    yield service
    service.stop()


@pytest.fixture()
def client(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=10) as c:
        yield c


@pytest.fixture(scope="session")
def edge() -> Iterator[EdgeStack]:
    """The whole stack behind NGINX (tests/edge.py), for the edge and browser tests."""
    stack = EdgeStack().start()
    yield stack
    stack.stop()
