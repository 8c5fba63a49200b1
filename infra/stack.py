"""The local stack behind `make up`: every process in the foreground under honcho.

Redis, the worker (`python -m worker`: one Celery worker per queue, tasks/queues.py), the
webhook dispatcher, the gateway (GATEWAY_PROCESSES of them, one
uvicorn each on GATEWAY_PORT and the ports after it), Flower, Locust's web UI, and NGINX in
front of them on NGINX_PORT, spreading requests over the gateways. Settings come from the
same pydantic-settings class as the services: environment, then `.env`, then defaults.

Closed by default. The run directory (STACK_RUN_DIR, `run/`: Redis's data, logs, the
sockets, generated configs) is its owner's only, and what the stack writes in it too
(umask 077). Redis needs a password made up for each run: it is in the owner-only
run/redis/ (redis.conf, and the URL in `url`), never on a command line. Flower listens
only on a unix socket in the run directory, which NGINX proxies to; Locust's web UI and
the gateway's /metrics check the dashboard credentials themselves. The gateways' REST API
and GraphQL stay on their own ports for API-key clients.

Several gateway processes are separate uvicorns on separate ports, not `uvicorn --workers`:
NGINX then picks a process per request (least_conn, over kept-alive connections) instead of
the kernel per connection, notices one that stops answering, and names the one that
answered in its access log; the supervisor below starts, watches and stops each by name.
That is also how compose's replicas and other machines' gateways sit behind NGINX.

Endpoint signing secrets are stored encrypted: without WEBHOOK_ENCRYPTION_KEY the stack
uses a key it made on its first run, in the owner-only run/webhook-encryption-key, kept
across runs like Redis's data.

Ctrl-C or SIGTERM stops the processes in order (`stop_order`, infra/supervisor.py): NGINX,
every gateway, Flower and Locust; then the worker, which passes the stop to each queue's
Celery worker: each lets its running jobs finish for WORKER_SHUTDOWN_GRACE_SECONDS and gives
the others back to their queue (worker/jobs/shutdown.py); then the webhook dispatcher; Redis
last, so the workers can still hand their jobs back.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra import nginx_conf  # noqa: E402
from infra.supervisor import OrderedManager, Stage  # noqa: E402
from tasks.dashboard_auth import pairs  # noqa: E402
from tasks.settings import Settings, get_settings  # noqa: E402
from worker.webhooks.dispatcher import (  # noqa: E402
    SHUTDOWN_GRACE_SECONDS as DISPATCHER_GRACE_SECONDS,
)

PY = shlex.quote(sys.executable)
GATEWAY = "gateway"
FRONT = ("nginx", GATEWAY, "flower", "locust")  # the first to stop: no new work comes in
STOP_SECONDS = 10.0  # for a process to exit after SIGTERM, beyond its own grace period
# Longest path of a unix socket (sun_path is 108 bytes with its terminating NUL).
MAX_SOCKET_PATH = 107

REDIS_CONFIG = """\
# Written by infra/stack.py for `make up`, with a password made up for this run.
bind 127.0.0.1
port {port}
protected-mode yes
dir {dir}
# Append-only persistence: a Redis restart loses no accepted job or record.
appendonly yes
appendfsync everysec
save ""
requirepass {password}
"""


def run_dir(settings: Settings) -> Path:
    path = Path(settings.stack_run_dir)
    return path if path.is_absolute() else ROOT / path


def prepare_run_dir(runtime: Path) -> None:
    """The run directory, its owner's only (what is already in it becomes unreachable to
    others too)."""
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    runtime.chmod(0o700)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    path.chmod(0o600)  # a file from an older run may have had another mode


def redis_config(runtime: Path) -> Path:
    return runtime / "redis" / "redis.conf"


def prepare_redis(settings: Settings, runtime: Path) -> str:
    """Write the local Redis's configuration with a password made up for this run, and
    runtime/redis/url; return that URL (it carries the password): every process uses it."""
    data = runtime / "redis"
    data.mkdir(mode=0o700, exist_ok=True)
    data.chmod(0o700)
    password = secrets.token_urlsafe(24)
    _write_private(redis_config(runtime), REDIS_CONFIG.format(
        port=settings.redis_port, dir=_quoted(str(data)), password=password))
    # The user `default` named: redis-cli -u sends an empty one otherwise, which Redis refuses.
    url = f"redis://default:{password}@127.0.0.1:{settings.redis_port}/0"
    _write_private(data / "url", url + "\n")
    return url


def _quoted(value: str) -> str:
    """A string in redis.conf's double-quoted form."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ensure_encryption_key(settings: Settings, runtime: Path) -> bool:
    """WEBHOOK_ENCRYPTION_KEY, when it is empty: the key in runtime/webhook-encryption-key,
    made on the first run and kept (like Redis's data, whose endpoint secrets it
    encrypts), exported so that every process agrees. Returns whether it is the stack's."""
    if not settings.webhook_encryption_is_development:
        return False
    path = runtime / "webhook-encryption-key"
    if not path.exists():
        from cryptography.fernet import Fernet  # only the stack's first run needs it

        _write_private(path, Fernet.generate_key().decode() + "\n")
    path.chmod(0o600)
    os.environ["WEBHOOK_ENCRYPTION_KEY"] = path.read_text().strip()
    return True


def flower_socket(runtime: Path) -> Path:
    return runtime / "flower.sock"


def gateway_names(settings: Settings) -> list[str]:
    """The gateway processes' names: `gateway` alone, or `gateway-1` ... `gateway-N`."""
    count = settings.gateway_processes
    return [GATEWAY] if count == 1 else [f"{GATEWAY}-{i}" for i in range(1, count + 1)]


def front(settings: Settings) -> tuple[str, ...]:
    """FRONT with every gateway process by name."""
    return tuple(n for role in FRONT for n in (gateway_names(settings) if role == GATEWAY
                                               else [role]))


def processes(
    settings: Settings, runtime: Path, include: set[str] | None = None
) -> dict[str, str]:
    """The stack's commands by name (`include`: only these; `gateway` stands for every
    gateway process), each `exec`ed by its shell so that signals reach the program. Call
    `prepare_redis()` (unless REDIS_URL or REDIS_SENTINELS name another Redis) and
    `prepare_edge()` first: they write the configurations."""
    procs: dict[str, str] = {}
    if settings.uses_local_redis:
        procs["redis"] = f"redis-server {shlex.quote(str(redis_config(runtime)))}"
    procs["worker"] = f"{PY} -m worker"
    procs["dispatcher"] = f"{PY} -m worker.dispatcher"  # webhook delivery
    gateways = dict(zip(gateway_names(settings), settings.gateway_ports, strict=True))
    for name, port in gateways.items():
        procs[name] = (f"{PY} -m uvicorn gateway.app:app --host {settings.gateway_host} "
                       f"--port {port} --no-access-log")
    # Flower reads FLOWER_BASIC_AUTH from the environment itself (kept off the command line),
    # but its /dashboard/metrics and /dashboard/healthcheck skip it: a unix socket in the
    # owner-only run directory is all it listens on.
    procs["flower"] = (
        f"{PY} -m celery --app worker.jobs.app:app flower "
        f"--unix_socket={shlex.quote(str(flower_socket(runtime)))} --url_prefix=dashboard"
    )
    procs["locust"] = (
        f"{PY} -m locust -f infra/locustfile.py,infra/locust_auth.py --web-host 127.0.0.1 "
        f"--web-port {settings.locust_port} --web-base-path /load-test "
        f"--host {nginx_url(settings)}"
    )
    procs["nginx"] = nginx_conf.command(runtime / "nginx")
    return {name: f"exec {cmd}" for name, cmd in procs.items()
            if include is None or (GATEWAY if name in gateways else name) in include}


def stop_order(settings: Settings) -> list[Stage]:
    """Front first (nothing new comes in), then the worker (its grace period, then a cold
    shutdown that hands jobs back), the dispatcher (its in-flight webhooks), Redis last."""
    return [
        Stage(front(settings), STOP_SECONDS),
        Stage(("worker",), settings.worker_shutdown_grace_seconds + STOP_SECONDS),
        Stage(("dispatcher",), DISPATCHER_GRACE_SECONDS + STOP_SECONDS),
        Stage(("redis",), STOP_SECONDS),
    ]


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


def prepare_edge(settings: Settings, basic_auth: str, runtime: Path) -> None:
    """Render nginx's configuration for these ports under runtime/nginx."""
    socket = flower_socket(runtime)
    if len(str(socket)) > MAX_SOCKET_PATH:
        raise SystemExit(f"{socket} is too long a path for a unix socket: set STACK_RUN_DIR "
                         "to a shorter directory")
    nginx_conf.write_local(runtime / "nginx", {
        "GATEWAY_SERVERS": nginx_conf.gateway_servers(gateway_addresses(settings)),
        "FLOWER_UPSTREAM": f"unix:{socket}",
        "LOCUST_UPSTREAM": f"127.0.0.1:{settings.locust_port}",
        "NGINX_LISTEN": f"127.0.0.1:{settings.nginx_port}",
        "NGINX_MAX_BODY_BYTES": str(settings.max_body_bytes),
        "NGINX_ACCESS_LOG": "logs/access.log",
    }, basic_auth)


def gateway_addresses(settings: Settings) -> list[str]:
    """`host:port` of each gateway process, as NGINX and the ready check reach them."""
    host = "127.0.0.1" if settings.gateway_host in ("0.0.0.0", "::") else settings.gateway_host
    host = f"[{host}]" if ":" in host else host
    return [f"{host}:{port}" for port in settings.gateway_ports]


def urls(settings: Settings) -> dict[str, str]:
    base = nginx_url(settings)
    return {
        "REST API": f"{base}/producer/api/",
        "OpenAPI docs": f"{base}/producer/api/docs",
        "GraphQL": f"{base}/graphql",
        "frontend app": f"{base}/app/",
        "dashboard": f"{base}/dashboard/",
        "load test": f"{base}/load-test/",
        "health": f"{base}/healthz",
        "metrics": f"{base}/metrics",
    }


def ready(settings: Settings, basic_auth: str) -> bool:
    """Every gateway process answers its health check on its own port (NGINX would answer
    from any one of them), and every route through NGINX: the gateways (with Redis and a
    worker), Flower and Locust."""
    login = pairs(basic_auth)[0]
    links = urls(settings)
    try:
        return (all(httpx.get(f"http://{address}/healthz", timeout=2).status_code == 200
                    for address in gateway_addresses(settings))
                and httpx.get(links["health"], timeout=2).status_code == 200
                and all(httpx.get(links[name], auth=login, timeout=2).status_code
                        == 200 for name in ("dashboard", "load test", "metrics")))
    except httpx.HTTPError:
        return False


def announce_when_ready(settings: Settings, manager: OrderedManager, basic_auth: str,
                        made_up: bool, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready(settings, basic_auth):
            lines = "\n".join(f"  {name:<14} {url}" for name, url in urls(settings).items())
            user, password = pairs(basic_auth)[0]
            login = (f"user {user}, password {password} (made up for this run; set "
                     "FLOWER_BASIC_AUTH=user:password to choose)" if made_up else
                     f"user {user}, password from FLOWER_BASIC_AUTH")
            notes = ("" if not settings.uses_local_redis else
                     f"Redis: 127.0.0.1:{settings.redis_port}, with a password made up for "
                     f"this run (the URL is in {run_dir(settings) / 'redis' / 'url'})\n")
            if settings.webhook_encryption_is_development:
                key = run_dir(settings) / "webhook-encryption-key"
                notes += f"Endpoint secrets in Redis: encrypted with the key in {key}\n"
            addresses = gateway_addresses(settings)
            if len(addresses) > 1:
                notes += (f"{len(addresses)} gateway processes behind NGINX: "
                          f"{', '.join(addresses)}\n")
            print(f"\nThe job gateway is ready:\n{lines}\n"
                  f"dashboard, load test and metrics: {login}\n{notes}"
                  "Ctrl-C stops everything.\n", flush=True)
            return
        time.sleep(0.5)
    print(f"\nThe stack did not answer through {nginx_url(settings)} within {timeout:.0f} s; "
          "see the logs above.\n", flush=True)
    manager.terminate()


def main() -> int:
    os.umask(0o077)  # every file and directory the stack makes is its owner's only
    settings = get_settings()
    runtime = run_dir(settings)
    prepare_run_dir(runtime)
    if settings.uses_local_redis:
        os.environ["REDIS_URL"] = prepare_redis(settings, runtime)  # every process agrees
    basic_auth, made_up = ensure_credentials(settings)
    ensure_encryption_key(settings, runtime)
    prepare_edge(settings, basic_auth, runtime)
    manager = OrderedManager(stop_order(settings))
    for name, cmd in processes(settings, runtime).items():
        manager.add_process(name, cmd, env=dict(os.environ), cwd=str(ROOT))
    threading.Thread(target=announce_when_ready, args=(settings, manager, basic_auth, made_up),
                     daemon=True).start()
    manager.loop()
    return int(manager.returncode or 0)


if __name__ == "__main__":
    sys.exit(main())
