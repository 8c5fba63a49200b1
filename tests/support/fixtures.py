"""The fixtures every test shares (loaded by tests/conftest.py): launchers per test, module
and session; a private Redis shared by the session, one per module (`own_redis`) and a
fresh one per test; a Sentinel set per test; the session's stack (its env, worker, gateway
and an HTTP client); the edge stack behind NGINX; and a webhook receiver per test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.edge import EdgeStack
from tests.support.launcher import Launcher, Stack
from tests.support.sentinel import SentinelSet
from tests.support.servers import Gateway, RedisServer, Service
from tests.support.webhook_receiver import Receiver


def _launcher() -> Iterator[Launcher]:
    launcher = Launcher()
    try:
        yield launcher
    finally:
        launcher.close()


@pytest.fixture()
def launch() -> Iterator[Launcher]:
    """Starts servers for one test and stops them after it."""
    yield from _launcher()


@pytest.fixture(scope="module")
def module_launch() -> Iterator[Launcher]:
    """Starts servers for a module's tests and stops them after its last one."""
    yield from _launcher()


@pytest.fixture(scope="session")
def session_launch() -> Iterator[Launcher]:
    yield from _launcher()


@pytest.fixture(scope="session")
def redis_server(session_launch: Launcher) -> RedisServer:
    return session_launch.redis()


@pytest.fixture(scope="module")
def own_redis(module_launch: Launcher) -> RedisServer:
    """A redis-server of the module's own, for tests that count what is in it."""
    return module_launch.redis()


@pytest.fixture()
def fresh_redis(launch: Launcher) -> RedisServer:
    """A redis-server of the test's own, for a test that stops, hangs or fills it."""
    return launch.redis()


@pytest.fixture()
def sentinels(launch: Launcher) -> SentinelSet:
    """A Redis primary, two replicas and three Sentinels of the test's own, for a test that
    kills the primary (tests/support/sentinel.py)."""
    return SentinelSet(launch, replicas=2).start()


@pytest.fixture(scope="session")
def session_stack(session_launch: Launcher, redis_server: RedisServer) -> Stack:
    return session_launch.stack(redis=redis_server)


@pytest.fixture(scope="session")
def env(session_stack: Stack) -> dict[str, str]:
    return session_stack.env


@pytest.fixture(scope="session")
def worker(session_stack: Stack) -> Service:
    assert session_stack.worker is not None
    return session_stack.worker


@pytest.fixture(scope="session")
def gateway(session_stack: Stack) -> Gateway:
    return session_stack.gateway


@pytest.fixture()
def client(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=10) as c:
        yield c


@pytest.fixture(scope="session")
def edge(session_launch: Launcher) -> EdgeStack:
    """The whole stack behind NGINX (tests/support/edge.py), for the edge and browser
    tests."""
    return session_launch.edge()


@pytest.fixture()
def receiver(launch: Launcher) -> Receiver:
    """A real HTTP webhook receiver on 127.0.0.1 for one test."""
    return launch.receiver()
