"""The dispatcher's HTTP client: aiohttp with a connection pool, guarded against SSRF.

aiohttp was chosen by measurement (bench/webhooks_bench.py: a bare aiohttp client moves
many times what a bare httpx.AsyncClient does on this kind of machine), and its resolver
hook is where the SSRF check belongs: the URL is checked first (scheme, port, a literal
address in any numeric form), then EVERY address the host resolves to, and the connection
goes to those checked addresses only (no second lookup, so no DNS rebinding).
The request goes to the URL's canonical form (tasks/webhooks/ssrf.py), so a URL an older
version stored as written (`http://2130706433/`) is sent to the host that was checked.
Redirects are not followed, the response is read up to a cap, timeouts are bounded.
An error no retry can fix (a refused or invalid URL) is told apart from a transient one
(worker/webhooks/retry_policy.py decides).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Sequence

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from tasks.webhooks.model import RESPONSE_BODY_LIMIT
from tasks.webhooks.ssrf import CheckedUrl, UrlPolicy, UrlRefused, check_url
from worker.webhooks.retry_policy import AttemptResult, error_class

URL_CACHE_SIZE = 10_000


class BlockedAddress(OSError):
    """Raised by the resolver when a host resolves to a refused address (aiohttp wraps
    OSErrors from the resolver in ClientConnectorDNSError)."""


class GuardedResolver(AbstractResolver):
    def __init__(self, policy: UrlPolicy) -> None:
        self._inner = ThreadedResolver()
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not results:
            raise OSError(f"{host} resolved to no address")
        try:
            self._policy.check_addresses(ipaddress.ip_address(r["host"]) for r in results)
        except UrlRefused as exc:
            raise BlockedAddress(f"{host}: {exc.message}") from None
        return results

    async def close(self) -> None:
        await self._inner.close()


class WebhookClient:
    """One pooled session per dispatcher process."""

    def __init__(self, policy: UrlPolicy, connect_timeout: float, total_timeout: float,
                 max_connections: int, trace_configs: Sequence[aiohttp.TraceConfig] = ()
                 ) -> None:
        """`trace_configs`: the attempts' spans (worker/webhooks/tracing.py), when traced."""
        self.policy = policy
        self._urls: dict[str, CheckedUrl | UrlRefused] = {}
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(policy), limit=max_connections, limit_per_host=0,
            ttl_dns_cache=10, family=socket.AF_UNSPEC)
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=total_timeout, sock_connect=connect_timeout),
            cookie_jar=aiohttp.DummyCookieJar(),  # receivers must not share cookies
            auto_decompress=False, trust_env=False, trace_configs=list(trace_configs) or None)

    async def close(self) -> None:
        await self.session.close()

    def checked(self, url: str) -> CheckedUrl | UrlRefused:
        """check_url, remembered per URL (the policy does not change while running)."""
        verdict = self._urls.get(url)
        if verdict is None:
            try:
                verdict = check_url(url, self.policy)
            except UrlRefused as exc:
                verdict = exc
            if len(self._urls) >= URL_CACHE_SIZE:
                self._urls.clear()
            self._urls[url] = verdict
        return verdict

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        start = time.perf_counter()

        def failed(error: str, detail: str) -> AttemptResult:
            return AttemptResult(None, error, (time.perf_counter() - start) * 1000, "",
                                 detail=detail)

        verdict = self.checked(url)
        if isinstance(verdict, UrlRefused):
            return failed("invalid_url" if verdict.reason == "malformed" else "blocked",
                          verdict.message)
        try:
            async with self.session.post(verdict.canonical, data=body, headers=headers,
                                         allow_redirects=False) as response:
                head = await read_capped(response.content, RESPONSE_BODY_LIMIT)
                return AttemptResult(
                    response.status, error_class(response.status),
                    (time.perf_counter() - start) * 1000, head.decode(errors="replace"),
                    response.headers.get("Retry-After"))
        except aiohttp.ClientConnectorDNSError as exc:
            if isinstance(exc.os_error, BlockedAddress):
                return failed("blocked", str(exc.os_error))
            return failed("connect_error", f"DNS: {exc.os_error}")
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as exc:
            return failed("tls_error", str(exc))
        except aiohttp.ClientConnectorError as exc:
            return failed("connect_error", str(exc.os_error))
        except TimeoutError:  # includes aiohttp's ServerTimeoutError
            return failed("timeout", "no complete answer within the timeout")
        except (aiohttp.InvalidURL, UnicodeError) as exc:  # refused before any I/O
            return failed("invalid_url", f"{type(exc).__name__}: {exc}")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return failed("protocol_error", f"{type(exc).__name__}: {exc}")


async def read_capped(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """At most `limit` bytes of the body: a huge answer is cut, not buffered."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await stream.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
