"""Real servers for the tests: a private redis-server, Celery workers, the gateway under
uvicorn and the webhook dispatcher, each a subprocess on a free loopback port with its log
under test-artifacts/. Tests do not call these directly: tests/support/launcher.py starts
them and stops every one it started."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import redis

from infra.ports import free_port as free_port  # the tests import it from here
from tasks.redis.clients import Outage, sync_client
from tasks.redis.keys import WAKE_CHANNEL
from tasks.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
# The job functions only the tests load: the one place their import path is spelled.
FIXTURE_FUNCTIONS = "tests.support.fixture_functions"


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


class Service:
    """A subprocess in its own process group (so stop/kill reach its children too)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name, self.argv, self.env = name, argv, env
        ARTIFACTS.mkdir(exist_ok=True)
        self.log_path = ARTIFACTS / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def children(self) -> list[psutil.Process]:
        return psutil.Process(self.pid).children(recursive=True)

    def signal_group(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown, no goodbye to the broker."""
        self.signal_group(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)

    def stop(self, timeout: float = 15) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class RedisServer(Service):
    def __init__(self, port: int | None = None, data_dir: str | None = None,
                 password: str | None = None, extra: tuple[str, ...] = ()) -> None:
        """`password`: requirepass (and masterauth); `extra`: more redis-server options
        (e.g. --replicaof)."""
        self.port = port or free_port()
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="gw-redis-")
        self.password = password
        auth = ["--requirepass", password, "--masterauth", password] if password else []
        argv = [shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1",
                "--port", str(self.port), "--dir", self.data_dir, "--save", "",
                "--appendonly", "yes", "--appendfsync", "everysec", *auth, *extra]
        super().__init__(f"redis-{self.port}", argv, dict(os.environ))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password, socket_timeout=5)

    def start(self) -> RedisServer:
        super().start()

        def answers() -> bool:
            try:
                return bool(self.client().ping())
            except redis.ConnectionError:
                return False

        wait_until(answers, 10, f"redis on {self.port}")
        return self

    def stop(self, timeout: float = 15) -> None:
        """Stop it, even while a test holds it with SIGSTOP (a hung Redis)."""
        self.signal_group(signal.SIGCONT)
        super().stop(timeout)


def stack_env(redis_url: str, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "REDIS_"))}
    env.update({
        "PYTHONPATH": str(ROOT),
        "GATEWAY_ENV_FILE": "/dev/null",  # a developer's .env must not leak into tests
        "ENVIRONMENT": "test",
        "REDIS_URL": redis_url,
        "WAIT_MAX_SECONDS": "30",
        "CELERY_VISIBILITY_TIMEOUT": "60",
        "WORKER_CONCURRENCY": "2",
        # One queue for every function (one Celery worker per start, as the tests look at
        # its processes); the tests of the two queues ask for them (CELERY_LONG_QUEUE).
        "CELERY_LONG_QUEUE": "",
        "LOG_LEVEL": "INFO",
    })
    env.update(overrides)
    return env


def start_worker(env: dict[str, str], name: str = "worker",
                 options: tuple[str, ...] = (), hostname: str | None = None) -> Service:
    """A worker; `options` are more celery worker options (e.g. another --pool);
    `hostname`: Celery's node name (default: unique per start)."""
    hostname = hostname or f"{name}-{free_port()}@%h"
    argv = [sys.executable, "-m", "worker", f"--hostname={hostname}", "--without-mingle",
            "--without-gossip", *options]
    return Service(name, argv, env).start()


class Gateway(Service):
    def __init__(self, env: dict[str, str], port: int | None = None) -> None:
        self.port = port or free_port()
        argv = [sys.executable, "-m", "uvicorn", "gateway.app:app", "--host", "127.0.0.1",
                "--port", str(self.port), "--no-access-log"]
        super().__init__(f"gateway-{self.port}", argv, env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, require_workers: bool = True) -> Gateway:
        super().start()

        def ready() -> bool:
            try:
                r = httpx.get(f"{self.url}/healthz", timeout=2)
            except httpx.HTTPError:
                return False
            return r.status_code == 200 or (not require_workers and r.status_code == 503)

        try:
            wait_until(ready, 30, f"{self.url}/healthz")
        except TimeoutError:
            raise TimeoutError(self.log_tail()) from None
        return self


def redis_settings(env: dict[str, str]) -> Settings:
    """The Redis settings of `env` (variables as the processes get them), for a client in
    the test's own process."""
    return Settings(_env_file=None, **{k.lower(): v for k, v in env.items()
                                       if k.startswith("REDIS_")})


def env_client(env: dict[str, str]) -> redis.Redis:
    """A client of the Redis `env` points the processes at, built as they build theirs:
    REDIS_URL, or the primary the Sentinels of REDIS_SENTINELS name."""
    return sync_client(redis_settings(env), Outage.FAIL_FAST, timeout=5)


def start_dispatcher(env: dict[str, str], name: str = "dispatcher") -> Service:
    """A webhook dispatcher (`python -m worker.dispatcher`), once it listens for wake-ups."""
    client = env_client(env)

    def listeners() -> int:
        [(_, count)] = client.pubsub_numsub(WAKE_CHANNEL)
        return int(count)

    before = listeners()
    service = Service(f"{name}-{free_port()}", [sys.executable, "-m", "worker.dispatcher"],
                      env).start()
    try:
        wait_until(lambda: listeners() > before, 30, f"{name} to start")
    except TimeoutError:
        service.stop()
        raise TimeoutError(service.log_tail()) from None
    finally:
        client.close()
    return service
