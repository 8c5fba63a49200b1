"""GraphiQL's page (gateway/graphql/graphiql.py) loads its files from the gateway, not
unpkg.com (that they are vendored with Strawberry's hashes:
tests/unit/infra/test_vendor_assets.py)."""

from __future__ import annotations

from gateway.graphql.graphiql import ASSETS_PATH, assets, local_html


def test_the_page_loads_every_pinned_file_from_the_gateway() -> None:
    pinned = assets()
    assert len(pinned) >= 5
    html = local_html()
    assert "unpkg.com" not in html
    for path, integrity in pinned:
        assert f'"{ASSETS_PATH}/{path}"' in html and integrity in html, path
