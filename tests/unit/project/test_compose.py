"""docker-compose.yml, checked without a Docker engine: every command names something that
exists, every variable is documented, ports and upstreams agree with the NGINX template,
only nginx is published, start-up order rests on healthchecks, and the gateway, the worker
and the dispatcher scale (`--scale`) with nginx following the gateway's replicas."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import nginx_conf
from tasks.queues import chosen
from tasks.settings import Settings
from tests.support.servers import ROOT
from worker.jobs.per_queue import take_queues


class UniqueKeyLoader(yaml.SafeLoader):
    """Refuses a key given twice in one mapping, as docker compose does (PyYAML would keep
    the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value
                if key.tag != "tag:yaml.org,2002:merge"]  # `<<: *app` may be overridden
        twice = sorted({str(key) for key in keys if keys.count(key) > 1})
        if twice:
            raise yaml.constructor.ConstructorError(
                None, None, f"keys given twice: {', '.join(twice)}", node.start_mark)
        return super().construct_mapping(node, deep=deep)


COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.load(COMPOSE_TEXT, Loader=UniqueKeyLoader)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
VENV_BIN = Path(sys.executable).parent
APP_SERVICES = ["gateway", "worker", "worker-long", "dispatcher", "flower", "locust",
                "locust-worker", "nginx-auth"]


def unescape(value: str) -> str:
    return value.replace("$$", "$")  # compose's escape for a literal $


def test_the_services() -> None:
    assert set(SERVICES) == {"redis", "gateway", "worker", "worker-long", "dispatcher",
                             "flower", "locust", "locust-worker", "nginx-auth", "nginx"}


def test_the_workers_consume_every_queue_once() -> None:
    """One service per queue (tasks/queues.py), each scaled on its own; `-Q` as
    `python -m worker` reads it."""
    queues = Settings(_env_file=None).queues
    consumed = [name for service in ("worker", "worker-long")
                for name in chosen(queues, take_queues(SERVICES[service]["command"])[0] or "")]
    assert sorted(consumed) == sorted(queues.values())


def test_only_nginx_publishes_a_port_and_it_is_80() -> None:
    published = {name: s["ports"] for name, s in SERVICES.items() if "ports" in s}
    assert published == {"nginx": ["80:80"]}
    assert SERVICES["nginx"]["environment"]["NGINX_LISTEN"] == "80"


@pytest.mark.parametrize("name", ["gateway", "worker", "worker-long", "dispatcher"])
def test_scalable_services_have_nothing_of_one_replica(name: str) -> None:
    """`--scale NAME=3` needs no fixed container name, published port or host name (a
    Celery worker's node name comes from its host name)."""
    assert not {"container_name", "ports", "hostname"} & set(SERVICES[name]), name


def test_a_key_given_twice_is_refused() -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match="twice: dispatcher"):
        yaml.load("services:\n  dispatcher: {}\n  dispatcher: {}\n", Loader=UniqueKeyLoader)


def test_nginx_follows_every_gateway_replica() -> None:
    """The service name resolves to every replica's address (Docker's DNS); `resolve`
    (NGINX 1.27.3 and later, in a shared-memory zone) asks again while NGINX runs."""
    servers = SERVICES["nginx"]["environment"]["GATEWAY_SERVERS"]
    assert re.fullmatch(r"resolver 127\.0\.0\.11 valid=\d+s; server gateway:(\d+) resolve;",
                        servers)
    assert servers.split("gateway:")[1].split()[0] == port_of(SERVICES["gateway"]["command"])
    version = tuple(int(n) for n in SERVICES["nginx"]["image"].split(":")[1].split("."))
    assert version >= (1, 27, 3) or version[:2] >= (1, 28), version
    upstream = re.search(r"upstream gw_gateway \{(.*?)\n\}", nginx_conf.TEMPLATE.read_text(),
                         re.DOTALL)
    assert upstream is not None
    assert {"least_conn;", "zone gw_gateway 64k;", "${GATEWAY_SERVERS}", "keepalive 32;"} <= {
        line.strip() for line in upstream.group(1).splitlines()}


def test_app_services_share_one_image_and_read_env() -> None:
    for name in APP_SERVICES:
        service = SERVICES[name]
        assert service["build"]["dockerfile"] == "infra/Dockerfile", name
        assert service["env_file"] == ".env", name
    dockerfile = (ROOT / "infra" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim", dockerfile, re.MULTILINE)
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)
    assert "pyproject.toml" in dockerfile
    for package in ("tasks", "gateway", "worker", "infra"):
        assert f"COPY {package} ./{package}" in dockerfile


def test_redis_persists_append_only_on_a_volume() -> None:
    redis = SERVICES["redis"]
    assert redis["command"][:3] == ["redis-server", "--appendonly", "yes"]
    assert "redis-data:/data" in redis["volumes"] and "redis-data" in COMPOSE["volumes"]


def check_python_module(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise AssertionError(f"no module {module}")


def check_app_path(app_path: str) -> None:
    module, _, attribute = app_path.partition(":")
    assert hasattr(importlib.import_module(module), attribute), app_path


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_command_names_something_that_exists(name: str) -> None:
    command: list[str] = SERVICES[name]["command"]
    program = command[0]
    if program == "python":
        assert command[1] == "-m"
        check_python_module(command[2])
        return
    assert (VENV_BIN / program).exists(), f"{program} is not installed by the project"
    if program == "uvicorn":
        check_app_path(command[1])
    elif program == "celery":
        check_app_path(command[command.index("--app") + 1])
        assert command[command.index("--app") + 2] == "flower"
        assert importlib.util.find_spec("flower") is not None
        assert "--url_prefix=dashboard" in command
    elif program == "locust":
        for locustfile in command[command.index("-f") + 1].split(","):
            assert (ROOT / locustfile).is_file(), locustfile
    else:
        raise AssertionError(f"{name}: unexpected program {program}")


def test_healthcheck_commands_exist() -> None:
    for name, service in SERVICES.items():
        test = service.get("healthcheck", {}).get("test", [])
        if test[1:3] == ["python", "-m"]:
            check_python_module(test[3])
        elif test[1:2] == ["python"]:
            assert test[2] == "-c", name


def test_startup_order_rests_on_healthchecks() -> None:
    for name in ("redis", "gateway", "worker", "worker-long", "flower", "locust", "nginx"):
        assert SERVICES[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name, service in SERVICES.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            condition = spec["condition"]
            assert condition in ("service_healthy", "service_completed_successfully"), name
            if condition == "service_healthy":
                assert SERVICES[dependency].get("healthcheck"), (name, dependency)
    nginx_needs = SERVICES["nginx"]["depends_on"]
    assert {"gateway", "flower", "locust", "nginx-auth"} <= set(nginx_needs)
    assert nginx_needs["nginx-auth"]["condition"] == "service_completed_successfully"


def test_every_variable_is_in_env_example() -> None:
    text = re.sub(r"\$\$", "", COMPOSE_TEXT)
    used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(),
                                re.MULTILINE))
    assert used and used <= documented, used - documented
    assert "FLOWER_BASIC_AUTH" in used and "MAX_BODY_BYTES" in used


def port_of(command: list[str]) -> str:
    """The port a service's command listens on (--port N, --port=N, --web-port N)."""
    for i, arg in enumerate(command):
        if arg in ("--port", "--web-port"):
            return command[i + 1]
        if arg.startswith("--port="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"no port in {command}")


def test_upstreams_match_the_services_and_the_template() -> None:
    env = SERVICES["nginx"]["environment"]
    for variable, service in [("FLOWER_UPSTREAM", "flower"), ("LOCUST_UPSTREAM", "locust")]:
        host, port = env[variable].split(":")
        assert host == service and port == port_of(SERVICES[service]["command"]), variable
    assert unescape(env["NGINX_ENVSUBST_FILTER"]) == nginx_conf.ENVSUBST_FILTER
    assert set(nginx_conf.TEMPLATE_VARIABLES) <= set(env)
    # The template rendered as the image renders it (its environment has more variables).
    image_env = {"PATH": "/usr/sbin", "HOSTNAME": "abc", "NGINX_VERSION": "1.27.5",
                 **{k: str(v) for k, v in env.items()}}
    image_env["NGINX_MAX_BODY_BYTES"] = "65536"  # compose's ${MAX_BODY_BYTES:-65536}
    rendered = nginx_conf.render(nginx_conf.TEMPLATE.read_text(), image_env,
                                 unescape(env["NGINX_ENVSUBST_FILTER"]))
    nginx_conf.check_rendered(rendered)
    assert "server gateway:8000 resolve;" in rendered and "listen 80;" in rendered
    assert "$http_upgrade" in rendered  # nginx's own variables untouched


def test_nginx_mounts_the_template_and_the_auth_file() -> None:
    nginx = SERVICES["nginx"]
    assert nginx["image"].startswith("nginx:")
    mounts = [m.split(":") for m in nginx["volumes"]]
    template = next(m for m in mounts if m[1].startswith("/etc/nginx/templates/"))
    assert (ROOT / template[0]).resolve() == nginx_conf.TEMPLATE
    assert template[1].endswith(".template")
    # The template names auth/htpasswd relative to /etc/nginx; nginx-auth writes it there.
    auth = next(m for m in mounts if m[1] == "/etc/nginx/auth")
    writer = SERVICES["nginx-auth"]
    assert f"{auth[0]}:/auth" in writer["volumes"]
    assert writer["command"][-1] == "/auth/" + Path(nginx_conf.AUTH_FILE).name
    assert f"auth_basic_user_file {nginx_conf.AUTH_FILE};" in nginx_conf.TEMPLATE.read_text()
