"""Helpers for the fault tests: a listening socket that only records who connected (IPv4 or
IPv6), a port free on several loopback addresses at once, bulk reads of job and delivery
state straight from Redis (500 jobs are too many to poll one by one), and a worker started
with its measured start-up time (what the worker-loss limits scale with)."""

from __future__ import annotations

import contextlib
import re
import select
import socket
import threading
import time
from typing import Any

import redis

from tasks.redis.keys import delivery_key, job_deliveries_key, job_key
from tests.support.launcher import Launcher
from tests.support.servers import ARTIFACTS, Service, wait_until

READY = re.compile(rb"@\S+ ready\.")  # Celery's "celery@host ready." line


class Listener:
    """A real listening TCP socket on `host:port` that accepts, records and closes every
    connection: proof that nothing ever connected to an address that must not be called."""

    def __init__(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host, self.port = host, port
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(64)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.peers: list[Any] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self._sock], [], [], 0.05)
            if not readable:
                continue
            with contextlib.suppress(OSError):
                conn, peer = self._sock.accept()
                with self._lock:
                    self.peers.append(peer)
                conn.close()

    def self_test(self) -> None:
        """Connect once and see it recorded (so a zero later means something), then forget."""
        with socket.create_connection((self.host, self.port), timeout=5):
            wait_until(lambda: self.connections == 1, 10, f"{self.host}:{self.port} to accept")
        with self._lock:
            self.peers.clear()

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self.peers)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


def port_free_on(*hosts: str, attempts: int = 50) -> int:
    """A port that can be bound on every one of `hosts` (so a refused loopback address and
    an allowed one can share the one allowed port)."""
    for _ in range(attempts):
        probes: list[socket.socket] = []
        try:
            first = socket.socket(socket.AF_INET6 if ":" in hosts[0] else socket.AF_INET)
            probes.append(first)
            first.bind((hosts[0], 0))
            port: int = first.getsockname()[1]
            for host in hosts[1:]:
                probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
                probes.append(probe)
                probe.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError(f"no port free on all of {hosts}")


def job_fields(client: redis.Redis, job_ids: list[str], *names: str) -> dict[str, list[str]]:
    """`names` of each job's record, read in one pipeline ("" where missing)."""
    with client.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hmget(job_key(job_id), list(names))
        rows = pipe.execute()
    return {job_id: [(v or b"").decode() for v in row]
            for job_id, row in zip(job_ids, rows, strict=True)}


def job_delivery_ids(client: redis.Redis, job_ids: list[str]) -> dict[str, list[str]]:
    with client.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.lrange(job_deliveries_key(job_id), 0, -1)
        rows = pipe.execute()
    return {job_id: [v.decode() for v in row] for job_id, row in zip(job_ids, rows, strict=True)}


def delivery_fields(client: redis.Redis, delivery_ids: list[str], *names: str
                    ) -> dict[str, list[str]]:
    with client.pipeline(transaction=False) as pipe:
        for delivery_id in delivery_ids:
            pipe.hmget(delivery_key(delivery_id), list(names))
        rows = pipe.execute()
    return {delivery_id: [(v or b"").decode() for v in row]
            for delivery_id, row in zip(delivery_ids, rows, strict=True)}


def wait_worker_ready(worker: Service, log_offset: int, timeout: float = 60) -> None:
    """Until the Celery worker started after `log_offset` bytes of its log says it is ready
    (it consumes from then on)."""

    def ready() -> bool:
        with worker.log_path.open("rb") as log:
            log.seek(log_offset)
            return READY.search(log.read()) is not None

    try:
        wait_until(ready, timeout, f"{worker.name} to be ready", interval=0.05)
    except TimeoutError:
        raise TimeoutError(worker.log_tail()) from None


def log_size(name: str) -> int:
    """The size of the log a Service called `name` appends to (tests/support/servers.py)."""
    path = ARTIFACTS / f"{name}.log"
    return path.stat().st_size if path.exists() else 0


def start_ready_worker(launch: Launcher, env: dict[str, str], name: str,
                       hostname: str | None = None) -> tuple[Service, float]:
    """A Celery worker once it consumes, and the seconds it took to get there: this
    machine's start-up time now, which limits on recovering from a lost worker scale with
    (a slow, busy machine gets longer limits, never a fixed number of seconds)."""
    offset = log_size(name)
    began = time.monotonic()
    worker = launch.worker(env, name, hostname=hostname)
    wait_worker_ready(worker, offset, timeout=120)
    return worker, time.monotonic() - began
