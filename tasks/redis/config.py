"""Parsing and checking of the Redis Sentinel settings as people write them: the Sentinels'
`host:port` list, the master's name, and what REDIS_URL may still say once Sentinel tells
where the primary is (only the data connections' user, password and database). Pure
functions, used by the Settings validators and the client factory, below both."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote, urlsplit

# A Sentinel master name as `sentinel monitor` takes it: one word.
_MASTER_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_SENTINELS_EXAMPLE = "10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379"


def parse_sentinels(value: str) -> tuple[tuple[str, int], ...]:
    """`host:port,host:port` (an IPv6 host in brackets: `[::1]:26379`) as address pairs;
    ValueError naming the bad entry."""
    addresses = []
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            continue
        host, sep, port = entry.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not (sep and host and port.isdigit() and 1 <= int(port) <= 65535) or any(
                c.isspace() or c in "/@[]" for c in host):
            raise ValueError(f"REDIS_SENTINELS must be host:port pairs separated by commas, "
                             f"e.g. {_SENTINELS_EXAMPLE} (got {entry!r})")
        addresses.append((host, int(port)))
    return tuple(addresses)


def check_master_name(name: str) -> None:
    if not _MASTER_NAME.match(name):
        raise ValueError("REDIS_SENTINEL_MASTER must be the name the Sentinels monitor the "
                         "primary under (`sentinel monitor NAME ...`): letters, digits, "
                         f". _ - only (got {name!r})")


def check_data_url(url: str, master: str) -> None:
    """With Sentinel, REDIS_URL carries only the data connections' credentials and database:
    `redis://[user]:PASSWORD@MASTER/0`. Never echoes the URL (it may hold a password)."""
    if not url:
        return
    parts = urlsplit(url)
    problem = None
    if parts.scheme != "redis":
        problem = f"the scheme {parts.scheme or '(none)'}:// (TLS and unix sockets are not " \
                  "supported with Sentinel here)"
    elif parts.port is not None:
        problem = "a port (the Sentinels tell where the primary listens)"
    elif parts.hostname not in (None, "", master.lower()):
        problem = f"the host {parts.hostname!r} (the Sentinels tell where the primary is)"
    elif parts.path not in ("", "/") and not parts.path[1:].isdigit():
        problem = "a path that is not a database number"
    if problem:
        raise ValueError(
            f"with REDIS_SENTINELS, REDIS_URL gives only the password and database of the "
            f"data connections, as redis://:PASSWORD@{master}/0; it has {problem}")


def data_credentials(url: str) -> dict[str, Any]:
    """The user, password and database REDIS_URL gives (what a Sentinel-managed connection
    takes besides the primary's address, which it asks the Sentinels for)."""
    parts = urlsplit(url)
    path = parts.path.lstrip("/")
    return {"username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "db": int(path) if path else 0}


def sentinel_broker_url(sentinels: tuple[tuple[str, int], ...], url: str) -> str:
    """kombu's Sentinel transport URL for the same primary as the job store: one
    `sentinel://` entry per Sentinel, each with the data password and database (kombu
    reads them from the first)."""
    creds = data_credentials(url)
    user, password = creds["username"], creds["password"]
    auth = ""
    if password is not None:
        auth = f"{quote(str(user or ''), safe='')}:{quote(str(password), safe='')}@"
    return ";".join(f"sentinel://{auth}{f'[{host}]' if ':' in host else host}:{port}/"
                    f"{creds['db']}" for host, port in sentinels)
