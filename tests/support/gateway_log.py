"""What a gateway wrote to its log from a point on, for the tests that promise bad input
leaves no error in it. The services of tests/support/servers.py log JSON lines with a `level`;
a line that is not JSON (a crash before logging was set up) counts as an error too."""

from __future__ import annotations

import json

import httpx

from tasks.ids import random_hex
from tests.support.servers import Gateway, wait_until

ERROR_LEVELS = {"ERROR", "CRITICAL"}


class LogWatch:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.path = gateway.log_path
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def lines(self) -> list[str]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            return log.read().decode(errors="replace").splitlines()

    def errors(self) -> list[str]:
        """Error-level lines written since the watch began. A client may see its answer
        before the gateway logs what followed it (a 413 is sent, then the reading app
        stops): a request sent now, and its line in the log, mark the point by which
        everything before it has been logged."""
        marker = "logwatch-" + random_hex()
        httpx.get(f"{self.gateway.url}/healthz", headers={"X-Request-ID": marker}, timeout=10)
        wait_until(lambda: any(marker in line for line in self.lines()), 10,
                   "the gateway to log the marker request")
        found = []
        for line in self.lines():
            try:
                level = json.loads(line).get("level")
            except (ValueError, AttributeError):
                level = "ERROR" if "Traceback" in line else None
            if level in ERROR_LEVELS:
                found.append(line[:2000])
        return found
