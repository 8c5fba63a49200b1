"""Cache headers of GraphQL answers to GET (a query by text or by persisted hash).

GET is what lets a persisted query be cached by URL, but every answer here is one tenant's
data (its jobs) and changes as jobs run: no shared cache (NGINX, a CDN) may keep it, and a
browser that keeps it must ask again before reusing it. `Vary` names the key headers for
any cache that stores private answers anyway. POST answers are not cacheable by default."""

from __future__ import annotations

from starlette.responses import Response

CACHE_CONTROL = "private, no-cache"
VARY = "Authorization, X-API-Key"


def mark_get_answer(response: Response) -> None:
    if response.headers.get("content-type", "").startswith("application/json"):
        response.headers["Cache-Control"] = CACHE_CONTROL
        response.headers["Vary"] = VARY
