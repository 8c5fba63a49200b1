"""GraphiQL without the internet: Strawberry's page with its unpkg.com files served by the
gateway from gateway/graphql/static/unpkg/ (the same files: their integrity hashes still apply)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

ASSETS_DIR = Path(__file__).resolve().parent / "static" / "unpkg"
ASSETS_PATH = "/graphql/static"
UNPKG = "https://unpkg.com/"
# src="https://unpkg.com/<package>@<version>/<file>" integrity="sha384-..."
ASSET_PATTERN = re.compile(
    r'(?:src|href)="https://unpkg\.com/(?P<path>[^"]+)"\s+integrity="(?P<integrity>[^"]+)"')


def upstream_html() -> str:
    return get_graphql_ide_html(graphql_ide="graphiql")


@cache
def local_html() -> str:
    return upstream_html().replace(UNPKG, f"{ASSETS_PATH}/")


def assets() -> list[tuple[str, str]]:
    """(path under unpkg, integrity) of every file the page loads."""
    return [(m["path"], m["integrity"]) for m in ASSET_PATTERN.finditer(upstream_html())]
