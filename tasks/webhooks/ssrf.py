"""The SSRF guard of webhook URLs: which URLs may be called, and which addresses connected to.

Pure logic, shared by the gateway (at submit and registration: refuse what is obviously
bad, without DNS) and the dispatcher (at send time: check every address a host resolves
to, then connect only to a checked address).

Refused unless inside WEBHOOK_ALLOWED_NETWORKS: every address that is not globally
routable (loopback, private, link-local incl. cloud metadata, CGNAT, unspecified,
reserved, documentation, benchmarking ...), multicast, and IPv6 forms that carry a refused
IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo). Python's `ipaddress`
alone calls multicast and some special ranges global, so they are listed here too.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from tasks.settings import Settings
from tasks.webhooks.config import IPAddress, IPNetwork, parse_networks, parse_ports

MAX_URL_LENGTH = 2048
ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

# What `ipaddress` misses or calls global, and networks no webhook receiver lives in.
_EXTRA_REFUSED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), why) for net, why in (
        ("100.64.0.0/10", "shared address space (CGNAT)"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("fec0::/10", "site-local"),
        ("64:ff9b:1::/48", "local-use NAT64"),
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_HOSTNAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")


class UrlRefused(ValueError):
    """A webhook URL that must not be called; `reason` is a short class for the log."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# --- the policy -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_ports: tuple[tuple[int, int], ...] = ((80, 80), (443, 443), (1024, 65535))
    # In development a refused loopback or private address names the setting that allows
    # it (trying webhooks with a receiver on this machine). Not elsewhere: the message goes
    # to API clients, who need not learn the operator's settings, and the way to open a
    # deployment to its own network is not something to advertise to them.
    name_the_setting: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlPolicy:
        return cls(parse_networks(settings.webhook_allowed_networks),
                   parse_ports(settings.webhook_allowed_ports),
                   name_the_setting=settings.environment == "development")

    def port_allowed(self, port: int) -> bool:
        return any(low <= port <= high for low, high in self.allowed_ports)

    def _allowlisted(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net
                   for net in self.allowed_networks)

    def address_refusal(self, address: IPAddress) -> str | None:
        """Why `address` must not be connected to, or None when it may be."""
        if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
            address = ipaddress.IPv6Address(address.compressed.split("%")[0])
        if self._allowlisted(address):
            return None
        if isinstance(address, ipaddress.IPv6Address):
            if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d on the wire
                return self.address_refusal(address.ipv4_mapped)
            for inner in embedded_ipv4(address):
                why = self.address_refusal(inner)
                if why is not None:
                    return f"{why} ({inner} inside {address})"
        return special_purpose(address)

    def refused(self, address: IPAddress, why: str) -> UrlRefused:
        message = f"the address {address} is refused: {why}"
        network = allowing_network(address, why) if self.name_the_setting else None
        if network is not None:
            message += f" (in development, WEBHOOK_ALLOWED_NETWORKS={network} allows it)"
        return UrlRefused("blocked", message)

    def check_addresses(self, addresses: Iterable[IPAddress]) -> None:
        """Raise UrlRefused unless EVERY address may be connected to."""
        for address in addresses:
            why = self.address_refusal(address)
            if why is not None:
                raise self.refused(address, why)


def allowing_network(address: IPAddress, why: str) -> str | None:
    """The allowlist entry that would let a loopback or private address through: all of
    IPv4 loopback, or just that address. None for the others (link-local is the cloud
    metadata service: no hint to open it)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # checked as the IPv4 address it is on the wire
    if why == "loopback":
        return "127.0.0.0/8" if address.version == 4 else f"{address}/128"
    if why == "private":
        return f"{address}/{address.max_prefixlen}"
    return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (and routes to)."""
    inner = []
    if address.sixtofour is not None:
        inner.append(address.sixtofour)
    if address.teredo is not None:
        inner.extend(address.teredo)
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        inner.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return inner


def special_purpose(address: IPAddress) -> str | None:
    """The kind of non-public address this is, or None for a public unicast address."""
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local (incl. cloud metadata)"
    if address.is_multicast:
        return "multicast"
    for network, why in _EXTRA_REFUSED:
        if address.version == network.version and address in network:
            return why
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not globally routable"
    return None


# --- URLs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    url: str
    scheme: str
    host: str  # lower case, no brackets, no trailing dot
    port: int
    literal: IPAddress | None  # the host, when it is an address in any numeric form
    # The URL as it is stored and sent: scheme and host in lower case, the host as IDNA
    # ASCII or, for an address in any numeric form, in its standard form (127.0.0.1,
    # [::ffff:7f00:1]); the port only when it is not the scheme's default; the path ("/"
    # when empty) and query as given; no fragment. The HTTP client sends to exactly the
    # host that was checked, and one endpoint is one URL however it was written.
    canonical: str


def numeric_host(host: str) -> IPAddress | None:
    """The address `host` denotes when it is numeric in ANY form the system resolver
    accepts (127.1, 0x7f.1, 2130706433, 0177.0.0.1, ::ffff:127.0.0.1 ...), without DNS."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(str(infos[0][4][0]).split("%")[0])


def numeric_last_label(host: str) -> bool:
    """A host whose last label is a number (`999.1.1.1`, `1.2.3.4.5`, `10.0x1`) is no DNS
    name (no top-level domain is numeric): URL parsers take it for an IPv4 address, and the
    HTTP client refuses it when it is not a valid one."""
    last = host.rsplit(".", 1)[-1]
    return last.isdigit() or (last[:2] == "0x" and all(c in "0123456789abcdef" for c in last[2:]))


def canonical_url(scheme: str, host: str, port: int, literal: IPAddress | None,
                  path: str, query: str) -> str:
    if literal is not None:
        host = f"[{literal.compressed}]" if literal.version == 6 else str(literal)
    authority = host if port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return f"{scheme}://{authority}{path or '/'}" + (f"?{query}" if query else "")


def is_local_name(host: str) -> bool:
    """`localhost` and `*.localhost` always mean loopback (RFC 6761), whatever DNS says."""
    return host == "localhost" or host.endswith(".localhost")


def check_url(url: str, policy: UrlPolicy) -> CheckedUrl:
    """Refuse a webhook URL that is malformed (also: a host no HTTP client sends to), of
    another scheme, to a refused port, or to a refused address written literally; return it
    with its canonical form. Hostnames are not resolved here (the dispatcher checks what
    they resolve to at send time)."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused("malformed", f"longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise UrlRefused("malformed", "the URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("malformed", f"not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UrlRefused("scheme", "the scheme must be http or https")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("malformed", "credentials in the URL are not accepted "
                                      "(receivers authenticate the signature instead)")
    raw_host = parts.hostname  # lower case, brackets removed
    if not raw_host:
        raise UrlRefused("malformed", "the URL has no host")
    host = unquote(raw_host).rstrip(".") if raw_host != "." else ""
    port = DEFAULT_PORTS[scheme] if port is None else port
    if not 1 <= port <= 65535:
        raise UrlRefused("malformed", f"port {port} is out of range")
    if not policy.port_allowed(port):
        raise UrlRefused("port", f"port {port} is not allowed (WEBHOOK_ALLOWED_PORTS)")
    literal = numeric_host(host)
    is_name = literal is None
    if is_name:
        try:
            ascii_host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise UrlRefused("malformed", f"not a valid host name: {host!r}") from None
        if not _HOSTNAME.match(ascii_host) or len(ascii_host) > 253:
            raise UrlRefused("malformed", f"not a valid host name: {host!r}")
        if numeric_last_label(ascii_host):
            raise UrlRefused("malformed", f"not a valid IPv4 address: {host!r}")
        if is_local_name(ascii_host):
            literal = ipaddress.IPv4Address("127.0.0.1")
        host = ascii_host
    if literal is not None:
        why = policy.address_refusal(literal)
        if why is not None:
            raise policy.refused(literal, why)
    canonical = canonical_url(scheme, host, port, None if is_name else literal,
                              parts.path, parts.query)
    return CheckedUrl(url, scheme, host, port, literal, canonical)
