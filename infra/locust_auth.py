"""Locust's web UI checks the dashboard credentials itself (FLOWER_BASIC_AUTH, HTTP basic).

NGINX guards /load-test/ and passes the same Authorization header on; this check closes
Locust's own port (LOCUST_PORT) too, where anyone on the machine could otherwise start a
load run (POST /load-test/swarm). Locust 2.47's `--web-login` is a session login page
that wants an identity provider plugged in, and its web server cannot listen on a unix
socket, hence this: loaded beside the locustfile, `locust -f
infra/locustfile.py,infra/locust_auth.py`. Locust fires `init` before its web UI serves
the first request.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from locust import events

from tasks import dashboard_auth
from tasks.settings import get_settings


@events.init.add_listener  # type: ignore[untyped-decorator]  # Locust's hooks are untyped
def require_credentials(web_ui: Any = None, **_: Any) -> None:
    if web_ui is None:  # headless, or a worker of a distributed run: no web UI
        return
    credentials = dashboard_auth.pairs(get_settings().flower_basic_auth.get_secret_value())

    @web_ui.app.before_request  # type: ignore[untyped-decorator]  # every route, assets too
    def check() -> Response | None:
        if dashboard_auth.authorized(request.headers.get("Authorization"), credentials):
            return None
        return Response("the load-test UI needs the dashboard credentials (FLOWER_BASIC_AUTH)\n",
                        401, {"WWW-Authenticate": dashboard_auth.CHALLENGE},
                        mimetype="text/plain")
