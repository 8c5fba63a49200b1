"""`make up` with several gateway processes (infra/stack.py): one uvicorn per port, each a
process of the supervisor by name, all in the first stage of the stop, all in NGINX's
upstream. tests/integration/edge/test_gateways_stack.py runs it."""

from __future__ import annotations

from pathlib import Path

from infra import stack
from tasks.settings import Settings


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, redis_url="", **values)


def test_one_gateway_keeps_its_name_and_port(tmp_path: Path) -> None:
    one = settings()
    commands = stack.processes(one, tmp_path)
    assert [name for name in commands if name.startswith("gateway")] == ["gateway"]
    assert "--port 8000 " in commands["gateway"]
    assert stack.front(one) == stack.FRONT


def test_several_gateways_one_process_and_port_each(tmp_path: Path) -> None:
    three = settings(gateway_processes=3, gateway_port=9100)
    commands = stack.processes(three, tmp_path)
    names = stack.gateway_names(three)
    assert names == ["gateway-1", "gateway-2", "gateway-3"]
    for name, port in zip(names, (9100, 9101, 9102), strict=True):
        assert commands[name].startswith("exec ") and "uvicorn gateway.app:app" in commands[name]
        assert f"--port {port} " in commands[name] and "--workers" not in commands[name]
    assert "gateway" not in commands
    # `include` names the role: every gateway process comes with it.
    assert set(stack.processes(three, tmp_path, {"gateway", "nginx"})) == {*names, "nginx"}
    first = stack.stop_order(three)[0]
    assert set(first.names) == {"nginx", "flower", "locust", *names}
    assert stack.gateway_addresses(three) == ["127.0.0.1:9100", "127.0.0.1:9101",
                                              "127.0.0.1:9102"]


def test_the_upstream_lists_every_gateway(tmp_path: Path) -> None:
    three = settings(gateway_processes=3, gateway_port=9100, gateway_host="0.0.0.0")
    stack.prepare_edge(three, "u:p", tmp_path)
    routes = (tmp_path / "nginx" / "gateway.conf").read_text()
    for port in (9100, 9101, 9102):  # NGINX reaches a gateway listening on every address
        assert f"server 127.0.0.1:{port};" in routes
