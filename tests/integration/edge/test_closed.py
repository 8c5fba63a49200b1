"""The local stack is closed by default: what NGINX guards is guarded on the services' own
ports too (the gateway's /metrics, Locust's web UI, Flower on a unix socket only), Redis
needs its made-up password, and the run directory is its owner's only. The edge stack is
prepared with `make up`'s own functions (tests/support/edge.py); test_stack_stop.py checks
the same on a real `make up`."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import psutil
import pytest
import redis

from infra import stack
from tests.support.edge import DASHBOARD_PASSWORD, EdgeStack

WRONG_LOGINS = [None, ("ops", "wrong"), ("nobody", DASHBOARD_PASSWORD)]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("login", WRONG_LOGINS)
def test_gateway_metrics_need_the_credentials_on_the_gateways_port(
    edge: EdgeStack, login: tuple[str, str] | None
) -> None:
    assert edge.settings is not None
    url = f"http://127.0.0.1:{edge.settings.gateway_port}/metrics"
    r = httpx.get(url, auth=login, timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "UNAUTHENTICATED"
    assert r.headers["www-authenticate"].startswith("Basic ")
    assert "gateway_" not in r.text
    r = httpx.get(url, auth=edge.auth, timeout=10)
    assert r.status_code == 200 and "gateway_workers_alive" in r.text
    # The REST API stays on the gateway's port, as documented.
    assert httpx.get(f"http://127.0.0.1:{edge.settings.gateway_port}/producer/api/",
                     timeout=10).status_code == 200


@pytest.mark.parametrize("login", WRONG_LOGINS)
def test_locust_needs_the_credentials_on_its_own_port(
    edge: EdgeStack, login: tuple[str, str] | None
) -> None:
    assert edge.settings is not None
    base = f"http://127.0.0.1:{edge.settings.locust_port}/load-test"
    with httpx.Client(base_url=base, auth=login, timeout=10) as client:
        assert client.get("/").status_code == 401
        # The route that starts a load run: refused before Locust reads the form.
        swarm = client.post("/swarm", data={"user_count": "1", "spawn_rate": "1"})
        assert swarm.status_code == 401
        assert client.get("/stats/requests").status_code == 401
    with httpx.Client(base_url=base, auth=edge.auth, timeout=10) as client:
        assert client.get("/").status_code == 200
        assert client.get("/stats/requests").json()["state"] in ("ready", "stopped")


def test_flower_listens_only_on_its_socket_in_the_run_directory(edge: EdgeStack) -> None:
    flower = psutil.Process(edge.services["flower"].pid)
    assert not [c for c in flower.net_connections(kind="inet")
                if c.status == psutil.CONN_LISTEN]
    socket = stack.flower_socket(edge.runtime)
    assert stat.S_ISSOCK(socket.stat().st_mode) and socket.parent == edge.runtime
    # Flower skips its own auth for /dashboard/metrics: the socket is reachable only
    # through the owner-only run directory (and NGINX, which asks for the credentials).
    transport = httpx.HTTPTransport(uds=str(socket))
    with httpx.Client(transport=transport, base_url="http://flower", timeout=10) as client:
        assert client.get("/dashboard/metrics").status_code == 200


def test_redis_needs_its_made_up_password(edge: EdgeStack) -> None:
    assert edge.settings is not None
    anonymous = redis.Redis(port=edge.settings.redis_port, socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    assert redis.Redis.from_url(edge.redis_url, socket_timeout=5).ping()
    # Never on a command line: another user could read it there (ps).
    cmdline = " ".join(psutil.Process(edge.services["redis"].pid).cmdline())
    assert edge.redis_password not in cmdline
    assert len(edge.redis_password) >= 32


def test_the_run_directory_is_its_owners_only(edge: EdgeStack) -> None:
    assert mode(edge.runtime) == 0o700
    assert mode(edge.runtime / "redis") == 0o700
    for private in (stack.redis_config(edge.runtime), edge.runtime / "redis" / "url"):
        assert mode(private) == 0o600, private
    assert edge.redis_password in stack.redis_config(edge.runtime).read_text()
