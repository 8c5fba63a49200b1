"""Session-wide real servers: one redis-server, one Celery worker, one gateway.

Tests that stop or kill a server build their own with the factories in tests/servers.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.edge import EdgeStack
from tests.servers import Gateway, RedisServer, Service, stack_env, start_worker


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
