"""A Redis Sentinel set on loopback for the failover tests: a primary, its replicas and three
Sentinels (`redis-server CONF --sentinel`), each a real server on a free port, with a
password on the data and another on the Sentinels, and failure detection shortened to
about a second. `settings` points the gateway's processes at it."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import cast

import redis

from tasks.settings import Settings
from tests.support.launcher import Launcher
from tests.support.servers import (
    RedisServer,
    Service,
    free_port,
    redis_settings,
    wait_until,
)

MASTER = "gwprimary"
DATA_PASSWORD = "data-pw-for-tests"  # loopback test servers only
SENTINEL_PASSWORD = "sentinel-pw-for-tests"
QUORUM = 2
# A replica catches up at once (no 5 s wait to batch diskless syncs).
REPLICATION = ("--repl-diskless-sync-delay", "0")


class SentinelServer(Service):
    def __init__(self, primary_port: int, down_after_ms: int, failover_timeout_ms: int) -> None:
        self.port = free_port()
        conf_dir = Path(tempfile.mkdtemp(prefix="gw-sentinel-"))
        conf = conf_dir / "sentinel.conf"  # Sentinel rewrites it: its own, writable
        conf.write_text("\n".join([
            f"port {self.port}", "bind 127.0.0.1", f"dir {conf_dir}",
            f"requirepass {SENTINEL_PASSWORD}", f"sentinel sentinel-pass {SENTINEL_PASSWORD}",
            f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} {QUORUM}",
            f"sentinel auth-pass {MASTER} {DATA_PASSWORD}",
            f"sentinel down-after-milliseconds {MASTER} {down_after_ms}",
            f"sentinel failover-timeout {MASTER} {failover_timeout_ms}",
            f"sentinel parallel-syncs {MASTER} 4", ""]))
        argv = [shutil.which("redis-server") or "redis-server", str(conf), "--sentinel"]
        super().__init__(f"sentinel-{self.port}", argv, dict(os.environ))

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=SENTINEL_PASSWORD, socket_timeout=2)

    def master(self) -> dict[str, object]:
        return cast(dict[str, object], self.client().sentinel_master(MASTER))

    def primary_port(self) -> int | None:
        """The port of the primary this Sentinel names (None: it names none, or is down)."""
        try:
            address = self.client().sentinel_get_master_addr_by_name(MASTER)
        except redis.RedisError:
            return None
        return int(address[1]) if isinstance(address, tuple | list) else None


class SentinelSet:
    """A primary, `replicas` replicas and three Sentinels watching them, started by `launch`
    (which stops them all)."""

    def __init__(self, launch: Launcher, replicas: int = 1, down_after_ms: int = 1000,
                 failover_timeout_ms: int = 2000) -> None:
        self.launch, self.replica_count = launch, replicas
        self.down_after_ms, self.failover_timeout_ms = down_after_ms, failover_timeout_ms
        self.servers: dict[int, RedisServer] = {}  # by port
        self.sentinels: list[SentinelServer] = []

    @property
    def settings(self) -> dict[str, str]:
        """The gateway's settings for this set (REDIS_URL: the data password, no address)."""
        return {"REDIS_SENTINELS": ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels),
                "REDIS_SENTINEL_MASTER": MASTER,
                "REDIS_SENTINEL_PASSWORD": SENTINEL_PASSWORD,
                "REDIS_URL": f"redis://:{DATA_PASSWORD}@{MASTER}/0"}

    def as_settings(self, **more: str) -> Settings:
        """Settings of an in-process client of this set (`more`: other REDIS_ settings)."""
        return redis_settings({**self.settings, **more})

    def start(self) -> SentinelSet:
        primary = self._redis()
        for _ in range(self.replica_count):
            self._redis("--replicaof", "127.0.0.1", str(primary.port))
        wait_until(lambda: self._connected_replicas(primary) == self.replica_count, 20,
                   "replicas in sync")
        for _ in range(3):
            sentinel = SentinelServer(primary.port, self.down_after_ms, self.failover_timeout_ms)
            self.launch.adopt(sentinel).start()
            self.sentinels.append(sentinel)
        wait_until(self._sentinels_agree, 30, "Sentinels to know each other and the replicas",
                   interval=0.1)
        return self

    def _redis(self, *extra: str) -> RedisServer:
        server = RedisServer(password=DATA_PASSWORD, extra=(*REPLICATION, *extra))
        self.servers[server.port] = self.launch.adopt(server).start()
        return server

    @staticmethod
    def _connected_replicas(server: RedisServer) -> int:
        info = server.client().info("replication")
        return sum(1 for key, value in info.items() if key.startswith("slave")
                   and isinstance(value, dict) and value.get("state") == "online")

    def _sentinels_agree(self) -> bool:
        try:
            states = [s.master() for s in self.sentinels]
        except redis.RedisError:
            return False
        return all(int(str(s["num-other-sentinels"])) == len(self.sentinels) - 1
                   and int(str(s["num-slaves"])) == self.replica_count for s in states)

    def primary_port(self) -> int | None:
        """The primary's port as the first Sentinel that answers names it."""
        return next((p for p in (s.primary_port() for s in self.sentinels) if p), None)

    @property
    def primary(self) -> RedisServer:
        port = self.primary_port()
        assert port is not None, "no Sentinel names a primary"
        return self.servers[port]

    def wait_new_primary(self, old_port: int, timeout: float) -> float:
        """Until every Sentinel names a primary other than `old_port` (a failover); the
        monotonic time the first one did."""
        first: float | None = None

        def switched() -> bool:
            nonlocal first
            ports = [sentinel.primary_port() for sentinel in self.sentinels]
            if first is None and any(p not in (None, old_port) for p in ports):
                first = time.monotonic()
            return all(p not in (None, old_port) for p in ports)

        wait_until(switched, timeout, "the Sentinels to promote a replica", interval=0.05)
        assert first is not None
        return first

    def wait_replicas_online(self, count: int, timeout: float) -> None:
        """Until the current primary has `count` replicas in sync (after a failover, the
        replicas Sentinel pointed at the new primary)."""
        wait_until(lambda: self._connected_replicas(self.primary) >= count, timeout,
                   f"{count} replica(s) in sync with the new primary", interval=0.1)
