"""GraphiQL's files (gateway/graphql/graphiql.py) are vendored, exactly the ones Strawberry's
page pins."""

from __future__ import annotations

import base64
import hashlib

from gateway.graphql.graphiql import ASSETS_DIR, assets, local_html


def test_every_pinned_file_is_vendored_with_its_hash() -> None:
    pinned = assets()
    assert len(pinned) >= 5
    for path, integrity in pinned:
        algorithm, _, expected = integrity.partition("-")
        data = (ASSETS_DIR / path).read_bytes()
        assert base64.b64encode(hashlib.new(algorithm, data).digest()).decode() == expected
    assert "unpkg.com" not in local_html()
