"""The whole stack behind NGINX, for the edge and browser tests: Redis with a password made
up for the run, a worker, the dispatcher, the gateway, Flower on its unix socket, Locust's
web UI and nginx, on free loopback ports, in an owner-only run directory. Everything is
prepared and started with the functions and commands of `make up` (infra/stack.py); only
the supervision differs: each service is a tests.support.servers.Service with a log of its own."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import redis
from gql import Client
from gql.transport.websockets import WebsocketsTransport

from gateway.graphql.schema import SCHEMA_FILE
from infra import stack
from infra.ports import stack_ports
from tasks.settings import Settings
from tests.support.servers import ARTIFACTS, Service, free_port, stack_env, wait_until

DASHBOARD_USER = "ops"
# Written into the stack's configuration; a test checks that no log shows it.
DASHBOARD_PASSWORD = f"dash-pw-{secrets.token_hex(8)}"


class EdgeStack:
    def __init__(self, log_prefix: str = "edge", **extra_env: str) -> None:
        self.extra_env = extra_env  # more settings for every service, e.g. API_KEYS
        # Its services' log files are test-artifacts/<log_prefix>-<service>.log: a second stack
        # of a session needs a prefix of its own, or it would truncate the first one's logs.
        self.log_prefix = log_prefix
        # Its own run directory: two stacks of a session (tests/integration/edge/test_tenants.py has
        # one more) must not share Flower's socket or nginx's files.
        ARTIFACTS.mkdir(exist_ok=True)
        self.runtime = Path(tempfile.mkdtemp(prefix="edge-run-", dir=ARTIFACTS))
        self.basic_auth = f"{DASHBOARD_USER}:{DASHBOARD_PASSWORD}"
        self.worker_name = f"edge-worker-{free_port()}"
        self.services: dict[str, Service] = {}
        self.settings: Settings | None = None
        self.redis_url = ""  # carries the password made up by stack.prepare_redis

    @property
    def url(self) -> str:
        assert self.settings is not None
        return stack.nginx_url(self.settings)

    @property
    def auth(self) -> tuple[str, str]:
        return DASHBOARD_USER, DASHBOARD_PASSWORD

    @property
    def redis_password(self) -> str:
        return urlsplit(self.redis_url).password or ""

    @property
    def nginx_access_log(self) -> Path:
        return self.runtime / "nginx" / "logs" / "access.log"

    def start(self) -> EdgeStack:
        ports = stack_ports(1)
        self.settings = Settings(_env_file=None, stack_run_dir=str(self.runtime),
                                 **{k.lower(): v for k, v in ports.items()})
        stack.prepare_run_dir(self.runtime)
        self.redis_url = stack.prepare_redis(self.settings, self.runtime)
        stack.prepare_edge(self.settings, self.basic_auth, self.runtime)
        # The load test's webhook receiver listens on loopback.
        env = stack_env(self.redis_url, FLOWER_BASIC_AUTH=self.basic_auth,
                        WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
                        **{k: str(v) for k, v in ports.items()}, **self.extra_env)
        env["PATH"] = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
        commands = stack.processes(self.settings, self.runtime)
        commands["worker"] += f" --hostname={self.worker_name}@%h --without-mingle"
        for name, command in commands.items():
            log_name = f"{self.log_prefix}-{name}"
            (ARTIFACTS / f"{log_name}.log").unlink(missing_ok=True)  # this run's lines only
            self.services[name] = Service(log_name, ["/bin/sh", "-c", command],
                                          env).start()
            if name == "redis":
                wait_until(self._redis_answers, 10, "the edge stack's redis")
        try:
            wait_until(lambda: stack.ready(self.settings, self.basic_auth),
                       90, "the edge stack through nginx", interval=0.3)
        except TimeoutError:
            tails = "\n".join(f"--- {s.name}\n{s.log_tail(15)}" for s in self.services.values())
            self.stop()
            raise TimeoutError(tails) from None
        return self

    def _redis_answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.redis_url).ping())
        except redis.RedisError:
            return False

    def client(self, timeout: float = 15, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout, **kwargs)

    def graphql_ws(self, key: str | None = None) -> Client:
        """A GraphQL client over WebSocket through NGINX (graphql-transport-ws), with the
        API key in connection_init; documents are checked against the schema file."""
        transport = WebsocketsTransport(
            url=self.url.replace("http://", "ws://") + "/graphql",
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
            init_payload={"Authorization": f"Bearer {key}"} if key else {},
        )
        return Client(transport=transport, schema=SCHEMA_FILE.read_text())

    def logs(self) -> dict[str, str]:
        """Every log the stack wrote, as `edge-<service>` (whatever the prefix of its files)
        and nginx's access log."""
        out = {f"edge-{name}": s.log_path.read_text(errors="replace")
               for name, s in self.services.items() if s.log_path.exists()}
        if self.nginx_access_log.exists():
            out["nginx-access"] = self.nginx_access_log.read_text(errors="replace")
        return out

    def stop(self) -> None:
        """In `make up`'s order (Redis last)."""
        assert self.settings is not None
        for stage in stack.stop_order(self.settings):
            for name in stage.names:
                if name in self.services:
                    self.services[name].stop()
        shutil.rmtree(self.runtime, ignore_errors=True)
