"""Where a request's API key is read from (gateway/services/auth.py)."""

from __future__ import annotations

import pytest

from gateway.services.auth import presented_key_in


@pytest.mark.parametrize(("headers", "key"), [
    ([], None),
    ([(b"x-api-key", b" k1 ")], "k1"),
    ([(b"authorization", b"Bearer k2")], "k2"),
    ([(b"authorization", b"bearer k2")], "k2"),
    ([(b"authorization", b"Basic abc")], None),
    ([(b"authorization", b"Bearer k2"), (b"x-api-key", b"k1")], "k1"),  # X-API-Key first
    ([(b"x-api-key", b"k1"), (b"x-api-key", b"k3")], "k1"),  # the first of a repeated one
    ([(b"content-type", b"application/json")], None),
])
def test_presented_key_in_raw_headers(headers: list[tuple[bytes, bytes]],
                                      key: str | None) -> None:
    assert presented_key_in(headers) == key
