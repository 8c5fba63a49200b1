"""`make load`: a bounded headless Locust run against a stack of its own.

It starts a private Redis, a worker, the gateway and NGINX on free loopback ports (so it
runs beside a `make up`), runs infra/locustfile.py through NGINX for LOAD_RUN_TIME with
LOAD_USERS users, then stops everything. Reports (CSV and HTML) go to
reports/load/<timestamp>/. It fails when any request failed.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra import stack  # noqa: E402
from infra.ports import stack_ports  # noqa: E402
from infra.supervisor import OrderedManager  # noqa: E402
from tasks.settings import Settings, get_settings  # noqa: E402

REPORTS = ROOT / "reports" / "load"
ALL_USERS = ("ReferenceUser", "GraphQLUser", "WebhookUser")
STOP_TIMEOUT = "30s"  # users finish the job they are polling before the run ends


def user_classes(settings: Settings) -> list[str]:
    if settings.load_user_classes.strip():
        return settings.load_user_classes.split()
    # Not imported from the locustfile: importing Locust monkey-patches this process.
    if importlib.util.find_spec("gateway.graphql") is None:
        print("GraphQLUser left out: gateway.graphql is not part of this code", flush=True)
        return [name for name in ALL_USERS if name != "GraphQLUser"]
    return list(ALL_USERS)


def locust_argv(settings: Settings, report_dir: Path) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(ROOT / "infra" / "locustfile.py"),
            "--headless", "--only-summary", "--users", str(settings.load_users),
            "--spawn-rate", str(settings.load_spawn_rate), "--run-time",
            settings.load_run_time, "--stop-timeout", STOP_TIMEOUT,
            "--host", stack.nginx_url(settings), "--csv", str(report_dir / "load"),
            "--html", str(report_dir / "report.html"), *user_classes(settings)]


def run_locust(report_dir: Path) -> None:
    """The `locust` process of the honcho run: wait for the stack, then become Locust."""
    settings = get_settings()
    health = f"{stack.nginx_url(settings)}/healthz"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(health, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        sys.exit(f"{health} did not answer 200 in time")
    argv = locust_argv(settings, report_dir)
    os.execv(argv[0], argv)  # noqa: S606  (become Locust: honcho then signals it directly)


def failures(report_dir: Path) -> tuple[int, int]:
    """(requests, failures) of the Aggregated row of Locust's CSV."""
    with (report_dir / "load_stats.csv").open() as stats:
        for row in csv.DictReader(stats):
            if row["Name"] == "Aggregated":
                return int(row["Request Count"]), int(row["Failure Count"])
    return 0, 0


def main() -> int:
    # A stack of its own: private Redis, free ports, quiet services (LOG_LEVEL=WARNING
    # unless set), so a load run neither disturbs nor is disturbed by `make up`.
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        os.environ[name] = ""
    for name, port in stack_ports(get_settings().gateway_processes).items():
        os.environ[name] = str(port)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["GATEWAY_HOST"] = "127.0.0.1"
    # WebhookUser's receiver runs in the Locust process, on this machine: let the
    # dispatcher's SSRF guard allow loopback for this run's own stack only.
    os.environ["WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8"
    get_settings.cache_clear()
    settings = get_settings()
    runtime = stack.run_dir(settings) / "load"
    shutil.rmtree(runtime, ignore_errors=True)
    for directory in (runtime.parent, runtime):  # owner-only, as `make up` keeps them
        stack.prepare_run_dir(directory)
    os.environ["REDIS_URL"] = stack.prepare_redis(settings, runtime)
    report_dir = REPORTS / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report_dir.mkdir(parents=True)
    basic_auth, _ = stack.ensure_credentials(settings)
    stack.prepare_edge(settings, basic_auth, runtime)
    manager = OrderedManager(stack.stop_order(settings))
    env = dict(os.environ)
    for name, cmd in stack.processes(settings, runtime,
                                     {"redis", "worker", "dispatcher", "gateway", "nginx"}).items():
        manager.add_process(name, cmd, env=env, cwd=str(ROOT))
    manager.add_process("locust", f"exec {stack.PY} -m infra.load --run-locust "
                        f"{report_dir}", env=env, cwd=str(ROOT))
    print(f"load run: {' '.join(user_classes(settings))}, {settings.load_users} users for "
          f"{settings.load_run_time}, through {stack.nginx_url(settings)}", flush=True)
    manager.loop()
    if not (report_dir / "load_stats.csv").exists():
        print("the load run did not finish; see the output above", flush=True)
        return 1
    requests, failed = failures(report_dir)
    print(f"\n{requests} requests, {failed} failed. Reports: "
          f"{report_dir.relative_to(ROOT)}/ (report.html, load_stats.csv, ...)", flush=True)
    return 1 if failed or not requests or manager.returncode else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--run-locust"]:
        run_locust(Path(sys.argv[2]))
    sys.exit(main())
