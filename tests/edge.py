"""The whole stack behind NGINX, for the edge and browser tests: a password-protected
redis-server, a worker, the gateway, Flower, Locust's web UI and nginx, each on a free
loopback port, started with the same commands as `make up` (infra/stack.py)."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

import httpx
import redis

from infra import stack
from tasks.settings import Settings
from tests.servers import ARTIFACTS, ROOT, Service, free_port, stack_env, wait_until

# Written into the stack's configuration; a test checks that no log shows them.
REDIS_PASSWORD = f"redis-pw-{secrets.token_hex(8)}"
DASHBOARD_USER = "ops"
DASHBOARD_PASSWORD = f"dash-pw-{secrets.token_hex(8)}"


class PasswordRedis(Service):
    def __init__(self) -> None:
        self.port = free_port()
        self.data_dir = tempfile.mkdtemp(prefix="gw-edge-redis-")
        argv = [shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1",
                "--port", str(self.port), "--dir", self.data_dir, "--save", "",
                "--appendonly", "no", "--requirepass", REDIS_PASSWORD]
        super().__init__("edge-redis", argv, dict(os.environ))

    @property
    def url(self) -> str:
        return f"redis://:{REDIS_PASSWORD}@127.0.0.1:{self.port}/0"

    def start(self) -> PasswordRedis:
        super().start()

        def answers() -> bool:
            try:
                return bool(redis.Redis(port=self.port, password=REDIS_PASSWORD).ping())
            except redis.RedisError:
                return False

        wait_until(answers, 10, "the edge stack's redis")
        return self


class EdgeStack:
    def __init__(self, **extra_env: str) -> None:
        self.extra_env = extra_env  # more settings for every service, e.g. API_KEYS
        self.redis = PasswordRedis()
        self.runtime = ARTIFACTS / "edge"
        self.basic_auth = f"{DASHBOARD_USER}:{DASHBOARD_PASSWORD}"
        self.worker_name = f"edge-worker-{free_port()}"
        self.services: list[Service] = []
        self.settings: Settings | None = None

    @property
    def url(self) -> str:
        assert self.settings is not None
        return stack.nginx_url(self.settings)

    @property
    def auth(self) -> tuple[str, str]:
        return DASHBOARD_USER, DASHBOARD_PASSWORD

    @property
    def nginx_access_log(self) -> Path:
        return self.runtime / "nginx" / "logs" / "access.log"

    def start(self) -> EdgeStack:
        self.redis.log_path.unlink(missing_ok=True)
        self.redis.start()
        self.services.append(self.redis)
        ports = {name: free_port() for name in
                 ("GATEWAY_PORT", "FLOWER_PORT", "LOCUST_PORT", "NGINX_PORT")}
        # The load test's webhook receiver listens on loopback.
        env = stack_env(self.redis.url, FLOWER_BASIC_AUTH=self.basic_auth,
                        WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
                        **{k: str(v) for k, v in ports.items()}, **self.extra_env)
        self.settings = Settings(_env_file=None, redis_url=self.redis.url,
                                 **{k.lower(): v for k, v in ports.items()})
        shutil.rmtree(self.runtime, ignore_errors=True)
        stack.prepare_edge(self.settings, self.basic_auth, self.runtime)
        commands = stack.processes(self.settings, self.runtime)
        commands["worker"] += f" --hostname={self.worker_name}@%h --without-mingle"
        for name, command in commands.items():
            (ARTIFACTS / f"edge-{name}.log").unlink(missing_ok=True)  # this run's lines only
            # `exec`: the service is the process itself, so stopping it stops it.
            self.services.append(Service(f"edge-{name}", ["/bin/sh", "-c", f"exec {command}"],
                                         {**env, "PYTHONPATH": str(ROOT),
                                          "PATH": f"{Path(sys.executable).parent}:"
                                                  f"{os.environ.get('PATH', '')}"}).start())
        try:
            wait_until(lambda: stack.ready(self.settings, self.basic_auth),
                       90, "the edge stack through nginx", interval=0.3)
        except TimeoutError:
            tails = "\n".join(f"--- {s.name}\n{s.log_tail(15)}" for s in self.services)
            self.stop()
            raise TimeoutError(tails) from None
        return self

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=15, **kwargs)

    def logs(self) -> dict[str, str]:
        """Every log the stack wrote: service output and nginx's access log."""
        out = {s.name: s.log_path.read_text(errors="replace") for s in self.services
               if s.log_path.exists()}
        if self.nginx_access_log.exists():
            out["nginx-access"] = self.nginx_access_log.read_text(errors="replace")
        return out

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
