"""Reading a request header straight from the ASGI scope, without building Starlette's
Headers object (the outer layers run for every request)."""

from __future__ import annotations

from starlette.types import Scope


def first_header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header `name` (lower case, as ASGI servers deliver names)."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None
