"""Free loopback ports for the stacks that start on their own (`make load`, the tests).

A port found free may be taken before it is bound again; the stacks that use these start
at once, which keeps that window short.
"""

from __future__ import annotations

import socket
from contextlib import ExitStack

ATTEMPTS = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports (GATEWAY_PORT for GATEWAY_PROCESSES)."""
    for _ in range(ATTEMPTS):
        with ExitStack() as held:
            first = held.enter_context(socket.socket())
            first.bind(("127.0.0.1", 0))
            base: int = first.getsockname()[1]
            if base + count - 1 > 65535:
                continue
            try:
                for port in range(base + 1, base + count):
                    held.enter_context(socket.socket()).bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise RuntimeError(f"found no {count} consecutive free ports in {ATTEMPTS} tries")


def stack_ports(gateway_processes: int) -> dict[str, int]:
    """Free ports for a stack of its own, none inside another's: GATEWAY_PORT (with the
    ports of its other processes after it), REDIS_PORT, NGINX_PORT, LOCUST_PORT."""
    first = free_ports(gateway_processes)
    taken = set(range(first, first + gateway_processes))
    ports = {"GATEWAY_PORT": first}
    for name in ("REDIS_PORT", "NGINX_PORT", "LOCUST_PORT"):
        ports[name] = next(port for port in iter(free_port, None) if port not in taken)
        taken.add(ports[name])
    return ports
