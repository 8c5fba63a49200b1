"""NGINX for the local stack: render nginx/gateway.conf.template, write a main config, and
the command that runs the Debian `nginx` binary in the foreground with everything (pid,
temp files, logs, the basic-auth file) under run/nginx/.

The template is rendered exactly as the official nginx image renders
/etc/nginx/templates/*.template: `envsubst` of the environment variables that are set and
whose names match NGINX_ENVSUBST_FILTER, in both `$NAME` and `${NAME}` forms. docker
compose sets the same filter, so one template serves both.
"""

from __future__ import annotations

import grp
import os
import re
import shlex
import shutil
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from infra import htpasswd

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "nginx" / "gateway.conf.template"
APP_ROOT = ROOT / "nginx" / "app"  # the frontend example, served at /app/
TEMPLATE_VARIABLES = ("GATEWAY_SERVERS", "FLOWER_UPSTREAM", "LOCUST_UPSTREAM",
                      "NGINX_LISTEN", "NGINX_MAX_BODY_BYTES", "NGINX_ACCESS_LOG",
                      "NGINX_APP_ROOT")
ENVSUBST_FILTER = "^(" + "|".join(TEMPLATE_VARIABLES) + ")$"
AUTH_FILE = "auth/htpasswd"  # relative to nginx's configuration directory, as in the template

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")

MAIN_CONFIG = """\
# Written by infra/nginx_conf.py for `make up`; the routes are in gateway.conf, rendered
# from nginx/gateway.conf.template. Relative paths are under this directory.
{user}worker_processes 1;
pid nginx.pid;
error_log stderr notice;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;  # gateway.conf has the JSON access log
    client_body_temp_path tmp/client_body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    include gateway.conf;
}}
"""


def render(template: str, env: Mapping[str, str], name_filter: str = ENVSUBST_FILTER) -> str:
    """envsubst "$(defined variables matching the filter)": others stay as written."""
    defined = {name for name in env if re.search(name_filter, name)}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return env[name] if name in defined else match.group(0)

    return _REFERENCE.sub(substitute, template)


def gateway_servers(addresses: Sequence[str]) -> str:
    """GATEWAY_SERVERS for gateway processes at these `host:port` (or `unix:path`)
    addresses: one `server` line each, in the upstream that spreads requests over them."""
    if not addresses:
        raise ValueError("the gateway upstream needs at least one address")
    return "\n    ".join(f"server {address};" for address in addresses)


def check_rendered(text: str) -> None:
    missing = sorted(set(_PLACEHOLDER.findall(text)))
    if missing:
        raise ValueError(f"nginx template variables not set: {', '.join(missing)}")


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def _others_can_reach(path: Path) -> bool:
    """Whether an unprivileged user (nginx's workers when the master is root) can traverse
    every directory down to `path`."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def _worker_group() -> int | None:
    for name in ("nogroup", "nobody", "nginx", "www-data"):
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            continue
    return None


def write_local(runtime: Path, variables: Mapping[str, str], basic_auth: str) -> Path:
    """Write runtime/{nginx.conf, gateway.conf, auth/htpasswd} and the directories nginx
    needs; return the main config."""
    for sub in ("tmp", "logs", "auth"):
        (runtime / sub).mkdir(parents=True, exist_ok=True)
    # Every local nginx serves the frontend example from the checkout.
    routes = render(TEMPLATE.read_text(),
                    {"NGINX_APP_ROOT": str(APP_ROOT), **os.environ, **variables})
    check_rendered(routes)
    (runtime / "gateway.conf").write_text(routes)
    user, group = "", None
    if os.geteuid() == 0:
        group = _worker_group()
        if group is None or not _others_can_reach(runtime):
            # Workers could not read the auth file or temp dirs as `nobody`.
            user = "user root;\n"
            group = None
    htpasswd.write(runtime / AUTH_FILE, basic_auth, mode=0o640 if group is not None else 0o600,
                   group=group)
    main = runtime / "nginx.conf"
    main.write_text(MAIN_CONFIG.format(user=user))
    return main


def command(runtime: Path) -> str:
    """Foreground nginx with its prefix in `runtime` (`-e stderr`: no /var/log at start)."""
    return (f"{shlex.quote(nginx_binary())} -p {shlex.quote(str(runtime) + '/')} "
            f"-c nginx.conf -e stderr -g 'daemon off;'")
