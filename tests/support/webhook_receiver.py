"""A real HTTP webhook receiver for the tests: a threaded HTTP/1.1 server on loopback that
records every request and every accepted connection, and answers as scripted per path
(e.g. 500, 500, then 200; 429 with Retry-After; 410; a redirect). It can be stopped (every
open connection is cut) and started again on the same port."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.servers import free_port


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    receiver: Receiver

    def get_request(self) -> tuple[Any, Any]:
        conn, addr = super().get_request()
        self.receiver._accepted(conn)
        return conn, addr


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real receivers
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.receiver._record(Received(self.path, headers, body, time.time()))
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Receiver:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self._lock = threading.Condition()
        self._requests: list[Received] = []
        self._scripts: dict[str, list[Reply]] = {}
        self._per_message: dict[str, list[Reply]] = {}
        self._message_count: dict[tuple[str, str], int] = defaultdict(int)
        self._open: set[socket.socket] = set()
        self.connections = 0
        self._server: _Server | None = None

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> Receiver:
        server = _Server((self.host, self.port), _Handler)
        server.receiver = self
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection: the receiver is down."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, path: str = "/hook") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    # --- scripting -------------------------------------------------------------------

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to `path` with `replies` in turn, then 200."""
        with self._lock:
            self._scripts[path] = list(replies)

    def script_each_message(self, path: str, *replies: Reply) -> None:
        """Answer each message (webhook-id) to `path` with `replies` in turn, then 200."""
        with self._lock:
            self._per_message[path] = list(replies)

    def _accepted(self, conn: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            self._open.add(conn)

    def _record(self, request: Received) -> Reply:
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()
            per_message = self._per_message.get(request.path)
            if per_message is not None:
                key = (request.path, request.headers.get("webhook-id", ""))
                seen = self._message_count[key]
                self._message_count[key] += 1
                return per_message[seen] if seen < len(per_message) else Reply()
            script = self._scripts.get(request.path)
            return script.pop(0) if script else Reply()

    # --- what arrived ----------------------------------------------------------------

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self._requests if path is None or r.path == path]

    def wait_for(
        self, check: Callable[[list[Received]], bool], timeout: float = 30,
        path: str | None = None, what: str = "webhooks",
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                got = [r for r in self._requests if path is None or r.path == path]
                if check(got):
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout} s waiting for {what}; "
                                       f"got {len(got)} requests")
                self._lock.wait(min(left, 0.5))

    def wait_count(self, path: str, count: int, timeout: float = 30) -> list[Received]:
        return self.wait_for(lambda got: len(got) >= count, timeout, path,
                             f"{count} requests to {path}")


def verify_by_hand(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks signature, computed with nothing but hmac: an independent check."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(part == f"v1,{expected}" for part in headers["webhook-signature"].split(" "))
