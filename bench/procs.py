"""The servers a benchmark run starts, and the promise that every one of them is stopped.

Each server runs in its own session (process group), so a stop reaches uvicorn's and
Celery's child processes too. `Processes` is a context manager that stops everything it
started on leaving, whether by success, error, Ctrl-C or SIGTERM. A server that fails
to start fails the run loudly with the tail of its log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType

import psutil
import redis

from infra import nginx_conf

ROOT = Path(__file__).resolve().parent.parent


class StartError(RuntimeError):
    """A server did not come up."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


class Proc:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def processes(self) -> list[psutil.Process]:
        """The process and its children (uvicorn workers, Celery pool processes)."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss(self) -> int:
        """Resident memory of the process and all its children, in bytes."""
        total = 0
        for proc in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total

    def stop(self, timeout: float = 10) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(5)
        # Stragglers of the group (a pool child that outlived its parent).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def fail(self, what: str) -> StartError:
        return StartError(f"{self.name}: {what}\n--- {self.log_path} (tail) ---\n"
                          f"{self.log_tail()}")


class _Interrupted(BaseException):
    """SIGTERM, turned into an exception so that every `finally` runs."""


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise _Interrupted(f"signal {signum}")


class Processes:
    """Starts servers for a run and stops all of them on exit, whatever the exit."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[Proc] = []
        self.temp_dirs: list[str] = []

    def __enter__(self) -> Processes:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._old_term = signal.signal(signal.SIGTERM, _raise_interrupted)
        # Ctrl-C raises KeyboardInterrupt even where SIGINT came in ignored (a background
        # job of a non-interactive shell), so `kill -INT` stops a run too.
        self._old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop_all()
        signal.signal(signal.SIGTERM, self._old_term)
        signal.signal(signal.SIGINT, self._old_int)

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()
        self.started.clear()
        for path in self.temp_dirs:
            shutil.rmtree(path, ignore_errors=True)
        self.temp_dirs.clear()

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self.started:
            self.started.remove(proc)

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        proc = Proc(name, argv, env, self.log_dir)
        self.started.append(proc)
        proc.start()
        return proc

    # --- the servers ---------------------------------------------------------------

    def redis(self, name: str, replica_of: RedisHandle | None = None) -> RedisHandle:
        """A private redis-server on a free loopback port (never 6379), no persistence;
        `replica_of`: a replica of that one, returned once it is in sync."""
        port = free_port()
        data_dir = tempfile.mkdtemp(prefix="bench-redis-")
        self.temp_dirs.append(data_dir)
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        replication = [] if replica_of is None else [
            "--replicaof", "127.0.0.1", str(replica_of.port), "--repl-diskless-sync-delay", "0"]
        proc = self.spawn(f"redis-{name}", [
            binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", data_dir,
            "--save", "", "--appendonly", "no", "--protected-mode", "yes", *replication,
        ], dict(os.environ))
        handle = RedisHandle(proc, port)

        def answers() -> bool:
            if not proc.alive():
                raise proc.fail("exited while starting")
            try:
                client = handle.client()
                return bool(client.ping()) and (replica_of is None or client.info(
                    "replication")["master_link_status"] == "up")
            except redis.ConnectionError:
                return False

        if not wait_until(answers, 15):
            raise proc.fail("did not answer PING (or sync with its primary) within 15 s")
        return handle

    def uvicorn(self, name: str, app: str, workers: int, env: dict[str, str],
                probe_path: str = "/") -> HttpServer:
        """`app` under uvicorn with the settings every HTTP server in the run shares."""
        port = free_port()
        argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1",
                "--port", str(port), *UVICORN_FLAGS, "--workers", str(workers)]
        proc = self.spawn(name, argv, env)
        server = HttpServer(proc, port, workers)
        server.wait_ready(probe_path)
        return server

    def nginx_in_front(self, name: str, gateways: list[HttpServer],
                       probe_path: str = "/") -> HttpServer:
        """NGINX as `make up` runs it (nginx/gateway.conf.template, rendered by
        infra/nginx_conf.py) in front of these one-process gateways: the way `make up` runs
        GATEWAY_PROCESSES of them. Its access log is formatted but goes to /dev/null."""
        port = free_port()
        runtime = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        self.temp_dirs.append(str(runtime))
        nowhere = f"127.0.0.1:{free_port()}"  # Flower and Locust: never asked here
        nginx_conf.write_local(runtime, {
            "GATEWAY_SERVERS": nginx_conf.gateway_servers(
                [f"127.0.0.1:{g.port}" for g in gateways]),
            "FLOWER_UPSTREAM": nowhere, "LOCUST_UPSTREAM": nowhere,
            "NGINX_LISTEN": f"127.0.0.1:{port}", "NGINX_MAX_BODY_BYTES": "65536",
            "NGINX_ACCESS_LOG": "/dev/null"}, "bench:unused")
        proc = self.spawn(name, ["/bin/sh", "-c", "exec " + nginx_conf.command(runtime)],
                          dict(os.environ))
        server = HttpServer(proc, port, sum(g.workers for g in gateways))

        def answers() -> bool:
            import httpx

            if not proc.alive():
                raise proc.fail("exited while starting")
            try:
                return httpx.get(server.url + probe_path, timeout=2).status_code < 500
            except httpx.HTTPError:
                return False

        if not wait_until(answers, 30, interval=0.1):
            raise proc.fail(f"{server.url}{probe_path} did not answer within 30 s")
        return server

    def celery_worker(self, name: str, argv: list[str], env: dict[str, str],
                      ready: Callable[[], bool]) -> Proc:
        proc = self.spawn(name, argv, env)

        def up() -> bool:
            if not proc.alive():
                raise proc.fail("exited while starting")
            return ready()

        if not wait_until(up, 60, interval=0.1):
            raise proc.fail("was not ready within 60 s")
        return proc


# Every HTTP server under test runs with these: the ceiling and the contenders alike.
UVICORN_FLAGS = ["--loop", "uvloop", "--http", "httptools", "--no-access-log",
                 "--log-level", "info", "--timeout-graceful-shutdown", "3"]


class RedisHandle:
    def __init__(self, proc: Proc, port: int) -> None:
        self.proc, self.port = proc, port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=10)


class HttpServer:
    def __init__(self, proc: Proc, port: int, workers: int) -> None:
        self.proc, self.port, self.workers = proc, port, workers

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, probe_path: str) -> None:
        import httpx  # the project's HTTP client; only needed here

        def ready() -> bool:
            if not self.proc.alive():
                raise self.proc.fail("exited while starting")
            # Every uvicorn process must have started, not just the first to answer.
            started = self.proc.log_tail(400).count("Application startup complete")
            if started < self.workers:
                return False
            try:
                return httpx.get(self.url + probe_path, timeout=2).status_code < 500
            except httpx.HTTPError:
                return False

        if not wait_until(ready, 60, interval=0.1):
            raise self.proc.fail(f"{self.url}{probe_path} did not answer within 60 s")
