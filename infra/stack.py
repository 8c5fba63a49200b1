"""The local stack behind `make up`: every process in the foreground under honcho.

Redis, a Celery worker, the gateway, Flower, Locust's web UI, and NGINX in front of them on
NGINX_PORT. Ctrl-C or SIGTERM stops them all (honcho signals each process group). Settings
come from the same pydantic-settings class as the services: environment, then `.env`, then
defaults.
"""

from __future__ import annotations

import os
import secrets
import shlex
import sys
import threading
import time
from pathlib import Path

import httpx
from honcho.manager import Manager

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra import nginx_conf  # noqa: E402
from tasks.settings import Settings, get_settings  # noqa: E402

RUNTIME = ROOT / "run"  # git-ignored: Redis data, logs, generated configs
PY = shlex.quote(sys.executable)


def processes(
    settings: Settings, runtime: Path = RUNTIME, include: set[str] | None = None
) -> dict[str, str]:
    """The stack's commands by name (`include`: only these). Call `prepare_edge()` first:
    nginx's configuration is written by it."""
    procs: dict[str, str] = {}
    if not settings.redis_url:
        data = runtime / "redis"
        data.mkdir(parents=True, exist_ok=True)
        # Append-only persistence: a Redis restart loses no accepted job or record.
        procs["redis"] = (
            f"redis-server --bind 127.0.0.1 --port {settings.redis_port} "
            f"--dir {shlex.quote(str(data))} --appendonly yes --appendfsync everysec "
            "--save '' --protected-mode yes"
        )
    procs["worker"] = f"{PY} -m worker"
    procs["dispatcher"] = f"{PY} -m worker.dispatcher"  # webhook delivery
    procs["gateway"] = (
        f"{PY} -m uvicorn gateway.app:app --host {settings.gateway_host} "
        f"--port {settings.gateway_port} --no-access-log"
    )
    # Flower reads FLOWER_BASIC_AUTH from the environment itself (kept off the command line).
    procs["flower"] = (
        f"{PY} -m celery --app tasks.celery_app:celery_app flower --address=127.0.0.1 "
        f"--port={settings.flower_port} --url_prefix=dashboard"
    )
    procs["locust"] = (
        f"{PY} -m locust -f infra/locustfile.py --web-host 127.0.0.1 "
        f"--web-port {settings.locust_port} --web-base-path /load-test "
        f"--host {nginx_url(settings)}"
    )
    procs["nginx"] = nginx_conf.command(runtime / "nginx")
    return {name: cmd for name, cmd in procs.items() if include is None or name in include}


def nginx_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.nginx_port}"


def ensure_credentials(settings: Settings) -> tuple[str, bool]:
    """FLOWER_BASIC_AUTH, made up for this run when it is empty (and then exported, so
    Flower and every other process agree). Returns it and whether it was made up."""
    basic_auth = settings.flower_basic_auth.get_secret_value()
    if basic_auth:
        return basic_auth, False
    basic_auth = f"admin:{secrets.token_urlsafe(12)}"
    os.environ["FLOWER_BASIC_AUTH"] = basic_auth
    return basic_auth, True


def prepare_edge(settings: Settings, basic_auth: str, runtime: Path = RUNTIME) -> None:
    """Render nginx's configuration for these ports under runtime/nginx."""
    upstream_host = "127.0.0.1" if settings.gateway_host in ("0.0.0.0", "::") else (
        settings.gateway_host)
    nginx_conf.write_local(runtime / "nginx", {
        "GATEWAY_UPSTREAM": f"{upstream_host}:{settings.gateway_port}",
        "FLOWER_UPSTREAM": f"127.0.0.1:{settings.flower_port}",
        "LOCUST_UPSTREAM": f"127.0.0.1:{settings.locust_port}",
        "NGINX_LISTEN": f"127.0.0.1:{settings.nginx_port}",
        "NGINX_MAX_BODY_BYTES": str(settings.max_body_bytes),
        "NGINX_ACCESS_LOG": "logs/access.log",
    }, basic_auth)


def urls(settings: Settings) -> dict[str, str]:
    base = nginx_url(settings)
    return {
        "REST API": f"{base}/producer/api/",
        "OpenAPI docs": f"{base}/producer/api/docs",
        "GraphQL": f"{base}/graphql",
        "dashboard": f"{base}/dashboard/",
        "load test": f"{base}/load-test/",
        "health": f"{base}/healthz",
        "metrics": f"{base}/metrics",
    }


def ready(settings: Settings, basic_auth: str) -> bool:
    """Every route answers through NGINX: the gateway (with Redis and a worker), Flower and
    Locust."""
    user, _, password = basic_auth.split(",")[0].partition(":")
    links = urls(settings)
    try:
        return (httpx.get(links["health"], timeout=2).status_code == 200
                and all(httpx.get(links[name], auth=(user, password), timeout=2).status_code
                        == 200 for name in ("dashboard", "load test", "metrics")))
    except httpx.HTTPError:
        return False


def announce_when_ready(settings: Settings, manager: Manager, basic_auth: str,
                        made_up: bool, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready(settings, basic_auth):
            lines = "\n".join(f"  {name:<14} {url}" for name, url in urls(settings).items())
            user, _, password = basic_auth.split(",")[0].partition(":")
            login = (f"user {user}, password {password} (made up for this run; set "
                     "FLOWER_BASIC_AUTH=user:password to choose)" if made_up else
                     f"user {user}, password from FLOWER_BASIC_AUTH")
            print(f"\nThe job gateway is ready:\n{lines}\n"
                  f"dashboard, load test and metrics: {login}\n"
                  "Ctrl-C stops everything.\n", flush=True)
            return
        time.sleep(0.5)
    print(f"\nThe stack did not answer through {nginx_url(settings)} within {timeout:.0f} s; "
          "see the logs above.\n", flush=True)
    manager.terminate()


def main() -> int:
    settings = get_settings()
    if not settings.redis_url:
        os.environ["REDIS_URL"] = settings.effective_redis_url  # every process agrees
    basic_auth, made_up = ensure_credentials(settings)
    prepare_edge(settings, basic_auth)
    manager = Manager()
    for name, cmd in processes(settings).items():
        manager.add_process(name, cmd, env=dict(os.environ), cwd=str(ROOT))
    threading.Thread(target=announce_when_ready, args=(settings, manager, basic_auth, made_up),
                     daemon=True).start()
    manager.loop()
    return int(manager.returncode or 0)


if __name__ == "__main__":
    sys.exit(main())
