"""The one way a test starts real servers: a Launcher starts a private redis-server, a
stack (Redis, a Celery worker, the gateway and maybe the webhook dispatcher), a webhook
receiver or the whole edge stack, and stops every one it started, newest first, when its
scope ends (the fixtures of tests/support/fixtures.py hand one out per test, per module
and per session). So no test writes its own start-up or its own try/finally teardown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import httpx

from tests.support.edge import EdgeStack
from tests.support.servers import (
    Gateway,
    RedisServer,
    Service,
    stack_env,
    start_dispatcher,
    start_worker,
)
from tests.support.webhook_receiver import Receiver


class Stoppable(Protocol):
    def stop(self) -> None: ...


S = TypeVar("S", bound=Stoppable)


@dataclass
class Stack:
    """Redis, an optional worker, the gateway and an optional dispatcher, on loopback."""

    launcher: Launcher
    redis: RedisServer
    env: dict[str, str]
    gateway: Gateway
    worker: Service | None = None
    dispatcher: Service | None = None
    dispatcher_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.gateway.url

    def client(self, timeout: float = 10) -> httpx.Client:
        return httpx.Client(base_url=self.gateway.url, timeout=timeout)

    def start_worker(self, name: str, **settings: str) -> Service:
        """One more worker on this stack (the launcher stops it)."""
        return self.launcher.worker({**self.env, **settings}, name)

    def replace_dispatcher(self, name: str = "dispatcher", **settings: str) -> Service:
        """Stop the stack's dispatcher and start another, with `settings` on top of the
        dispatcher's own."""
        if self.dispatcher is not None:
            self.dispatcher.stop()
        self.dispatcher = self.launcher.dispatcher({**self.dispatcher_env, **settings}, name)
        return self.dispatcher


class Launcher:
    def __init__(self) -> None:
        self._stops: list[Callable[[], None]] = []

    def adopt(self, thing: S) -> S:
        """Stop `thing` with the rest: for a server a test started some other way."""
        self._stops.append(thing.stop)
        return thing

    def on_close(self, stop: Callable[[], None]) -> None:
        self._stops.append(stop)

    def redis(self, port: int | None = None, data_dir: str | None = None) -> RedisServer:
        return self.adopt(RedisServer(port, data_dir)).start()

    def worker(self, env: dict[str, str], name: str = "worker",
               options: tuple[str, ...] = (), hostname: str | None = None) -> Service:
        return self.adopt(start_worker(env, name=name, options=options, hostname=hostname))

    def gateway(self, env: dict[str, str], require_workers: bool = True) -> Gateway:
        return self.adopt(Gateway(env)).start(require_workers=require_workers)

    def dispatcher(self, env: dict[str, str], name: str = "dispatcher") -> Service:
        return self.adopt(start_dispatcher(env, name=name))

    def service(self, name: str, argv: list[str], env: dict[str, str]) -> Service:
        """Any other command, supervised like the servers (its log in test-artifacts/)."""
        return self.adopt(Service(name, argv, env)).start()

    def receiver(self, host: str = "127.0.0.1", port: int | None = None) -> Receiver:
        return self.adopt(Receiver(host, port)).start()

    def edge(self, log_prefix: str = "edge", **settings: str) -> EdgeStack:
        """The whole stack behind NGINX (tests/support/edge.py); a stack beside the session's
        one names its logs with a `log_prefix` of its own."""
        return self.adopt(EdgeStack(log_prefix, **settings)).start()

    def stack(self, worker: str | None = "worker", dispatcher: bool | dict[str, str] = False,
              redis: RedisServer | None = None, **settings: str) -> Stack:
        """A stack on a Redis of its own (or `redis`) with `settings`; `worker` names its
        worker's log (None: no worker, submitted jobs stay QUEUED); `dispatcher`: True
        for one with the same settings, or the settings only the dispatcher gets."""
        server = redis or self.redis()
        env = stack_env(server.url, **settings)
        running = self.worker(env, worker) if worker else None
        gateway = self.gateway(env, require_workers=running is not None)
        stack = Stack(self, server, env, gateway, running)
        if dispatcher:
            stack.dispatcher_env = {**env, **(dispatcher if isinstance(dispatcher, dict)
                                              else {})}
            stack.replace_dispatcher()
        return stack

    def close(self) -> None:
        """Stop everything, newest first; every stop runs even if one fails."""
        errors: list[BaseException] = []
        while self._stops:
            try:
                self._stops.pop()()
            except BaseException as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
