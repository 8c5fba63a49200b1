"""The local stack behind `make up`: every process in the foreground under honcho.

Ctrl-C or SIGTERM stops them all (honcho signals each process group). Settings come from
the same pydantic-settings class as the services: environment, then `.env`, then defaults.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
import time
from pathlib import Path

import httpx
from honcho.manager import Manager

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.settings import Settings, get_settings  # noqa: E402

RUNTIME = ROOT / "run"  # git-ignored: Redis data, logs, generated configs
PY = shlex.quote(sys.executable)


def processes(settings: Settings) -> dict[str, str]:
    procs: dict[str, str] = {}
    if not settings.redis_url:
        data = RUNTIME / "redis"
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
    return procs


def urls(settings: Settings) -> dict[str, str]:
    base = f"http://{settings.gateway_host}:{settings.gateway_port}"
    return {
        "REST API": f"{base}/producer/api/",
        "OpenAPI docs": f"{base}/producer/api/docs",
        "health": f"{base}/healthz",
    }


def announce_when_ready(settings: Settings, manager: Manager, timeout: float = 90) -> None:
    health = urls(settings)["health"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(health, timeout=2).status_code == 200:
                lines = "\n".join(f"  {name:<14} {url}" for name, url in urls(settings).items())
                print(f"\nThe job gateway is ready:\n{lines}\nCtrl-C stops everything.\n",
                      flush=True)
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    print(f"\n{health} did not answer 200 within {timeout:.0f} s; see the logs above.\n",
          flush=True)
    manager.terminate()


def main() -> int:
    settings = get_settings()
    if not settings.redis_url:
        os.environ["REDIS_URL"] = settings.effective_redis_url  # every process agrees
    manager = Manager()
    for name, cmd in processes(settings).items():
        manager.add_process(name, cmd, env=dict(os.environ), cwd=str(ROOT))
    threading.Thread(target=announce_when_ready, args=(settings, manager), daemon=True).start()
    manager.loop()
    return int(manager.returncode or 0)


if __name__ == "__main__":
    sys.exit(main())
