"""The NGINX configuration (infra/nginx_conf.py): the template rule, its variables, the
local config's file modes, and the official image's envsubst step."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from infra import nginx_conf
from tasks.settings import Settings


def test_render_substitutes_only_defined_filtered_variables() -> None:
    template = "a ${LOCUST_UPSTREAM} b $LOCUST_UPSTREAM c ${FLOWER_UPSTREAM} d $host " \
               "e ${HOME} f $LOCUST_UPSTREAMS g ${request_id}"
    env = {"LOCUST_UPSTREAM": "gw:1", "HOME": "/root", "host": "nope"}
    out = nginx_conf.render(template, env)
    assert out == ("a gw:1 b gw:1 c ${FLOWER_UPSTREAM} d $host e ${HOME} "
                   "f $LOCUST_UPSTREAMS g ${request_id}")
    with pytest.raises(ValueError, match="FLOWER_UPSTREAM"):
        nginx_conf.check_rendered(out)
    # Without a filter every defined variable counts, as in the image by default.
    assert nginx_conf.render("${HOME}", env, "") == "/root"


def test_the_template_uses_exactly_the_documented_variables() -> None:
    text = nginx_conf.TEMPLATE.read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert set(nginx_conf._PLACEHOLDER.findall(body)) == set(nginx_conf.TEMPLATE_VARIABLES)


def local_variables(gateways: list[str]) -> dict[str, str]:
    return {name: "127.0.0.1:1" for name in ("FLOWER_UPSTREAM", "LOCUST_UPSTREAM",
                                              "NGINX_LISTEN")} | {
        "GATEWAY_SERVERS": nginx_conf.gateway_servers(gateways),
        "NGINX_MAX_BODY_BYTES": "1000", "NGINX_ACCESS_LOG": "logs/access.log"}


def test_gateway_servers_one_line_each() -> None:
    assert nginx_conf.gateway_servers(["127.0.0.1:8000"]) == "server 127.0.0.1:8000;"
    assert nginx_conf.gateway_servers(["127.0.0.1:8000", "unix:/run/g.sock"]) == (
        "server 127.0.0.1:8000;\n    server unix:/run/g.sock;")
    with pytest.raises(ValueError, match="at least one"):
        nginx_conf.gateway_servers([])


def test_several_gateways_render_into_one_upstream_nginx_accepts(tmp_path: Path) -> None:
    """The rendered configuration of three gateway processes, checked by nginx itself
    (`nginx -t`): one server line each in the least_conn upstream."""
    runtime = tmp_path / "nginx"
    gateways = [f"127.0.0.1:{port}" for port in (8000, 8001, 8002)]
    main = nginx_conf.write_local(runtime, local_variables(gateways), "u:p")
    routes = (runtime / "gateway.conf").read_text()
    upstream = routes[routes.index("upstream gw_gateway {"):]
    upstream = upstream[:upstream.index("\n}")]
    assert [line.strip() for line in upstream.splitlines() if "server " in line] == [
        f"server {address};" for address in gateways]
    assert "least_conn;" in upstream and "keepalive 32;" in upstream
    check = subprocess.run([nginx_conf.nginx_binary(), "-t", "-p", f"{runtime}/", "-c",
                            main.name, "-e", "stderr"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_local_nginx_config_is_private_to_nginx(tmp_path: Path) -> None:
    runtime = tmp_path / "nginx"
    nginx_conf.write_local(runtime, local_variables(["127.0.0.1:1"]), "u:p")
    mode = stat.S_IMODE((runtime / nginx_conf.AUTH_FILE).stat().st_mode)
    assert mode in (0o600, 0o640)  # 0o640 with nginx's worker group when run as root
    assert mode & 0o007 == 0
    main = (runtime / "nginx.conf").read_text()
    assert "include gateway.conf;" in main and "pid nginx.pid;" in main
    if os.geteuid() != 0:
        assert "user " not in main


def test_render_equals_the_official_images_envsubst_step() -> None:
    """The image's 20-envsubst-on-templates.sh: awk lists the variables matching the
    filter, envsubst substitutes those. Ours must give the same text, byte for byte."""
    if shutil.which("envsubst") is None:
        pytest.skip("envsubst (Debian's gettext-base) is not installed; `make test` installs "
                    "it where it can")
    env = {"GATEWAY_SERVERS": "resolver 127.0.0.11 valid=5s; server gateway:8000 resolve;",
           "FLOWER_UPSTREAM": "flower:5555",
           "LOCUST_UPSTREAM": "locust:8089", "NGINX_LISTEN": "80",
           "NGINX_MAX_BODY_BYTES": "65536", "NGINX_ACCESS_LOG": "/dev/stdout",
           "NGINX_APP_ROOT": "/usr/share/nginx/app",
           "HOME": "/root", "NGINX_ENVSUBST_FILTER": nginx_conf.ENVSUBST_FILTER}
    script = ('filter="${NGINX_ENVSUBST_FILTER:-}"; defined_envs=$(printf \'${%s} \' '
              '$(awk "END { for (name in ENVIRON) { print ( name ~ /${filter}/ ) ? name '
              ': \\"\\" } }" </dev/null)); envsubst "$defined_envs"')
    image = subprocess.run(["sh", "-c", script], input=nginx_conf.TEMPLATE.read_text(),
                           env=env, capture_output=True, text=True, check=True).stdout
    ours = nginx_conf.render(nginx_conf.TEMPLATE.read_text(), env)
    assert ours == image
    nginx_conf.check_rendered(ours)


def locations() -> dict[str, str]:
    """The template's location blocks: match -> body (up to its first `}`: only /app/'s
    `types {}` nests braces)."""
    text = nginx_conf.TEMPLATE.read_text()
    return {m["match"].strip(): m["body"] for m in re.finditer(
        r"^\s*location\s+(?P<match>[^{]+)\{(?P<body>[^}]*)\}", text, re.MULTILINE)}


def seconds(body: str, directive: str) -> float:
    found = re.search(rf"^\s*{directive}\s+(\d+)s;", body, re.MULTILINE)
    assert found, f"no {directive} in {body!r}"
    return float(found[1])


def most_allowed(setting: str) -> float:
    """The highest value Settings accepts for `setting` (its `le` bound)."""
    bounds = [m.le for m in Settings.model_fields[setting].metadata if hasattr(m, "le")]
    assert bounds, f"{setting} has no upper bound"
    return float(bounds[0])


def test_event_streams_pass_unbuffered_and_stay_open() -> None:
    events = [(match, body) for match, body in locations().items() if "events" in match]
    assert len(events) == 1, events
    match, body = events[0]
    pattern = re.compile(match.removeprefix("~").strip())
    assert pattern.search("/producer/api/jobs/89af3e75-1a4e-4fdc-bff3-211dca7256ab/events")
    assert not pattern.search("/producer/api/jobs/x/events/more")
    assert not pattern.search("/producer/api/jobs/x/deliveries")
    assert re.search(r"^\s*proxy_buffering off;", body, re.MULTILINE)
    assert "proxy_pass http://gw_gateway;" in body
    idle = most_allowed("event_stream_keepalive_seconds")
    assert seconds(body, "proxy_read_timeout") > idle
    assert seconds(body, "proxy_send_timeout") > idle


def test_a_long_poll_outlasts_no_read_timeout() -> None:
    body = locations()["/producer/api/"]
    assert seconds(body, "proxy_read_timeout") > most_allowed("long_poll_max_seconds")
