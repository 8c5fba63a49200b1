"""GraphiQL's files are served locally and are exactly the ones Strawberry's page pins."""

from __future__ import annotations

import base64
import hashlib

import httpx

from gateway.graphql.graphiql import ASSETS_DIR, ASSETS_PATH, assets, local_html
from tests.support.servers import Gateway


def test_every_pinned_file_is_vendored_with_its_hash() -> None:
    pinned = assets()
    assert len(pinned) >= 5
    for path, integrity in pinned:
        algorithm, _, expected = integrity.partition("-")
        data = (ASSETS_DIR / path).read_bytes()
        assert base64.b64encode(hashlib.new(algorithm, data).digest()).decode() == expected
    assert "unpkg.com" not in local_html()


def test_gateway_serves_the_page_and_its_files(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url) as c:
        page = c.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and f'src="{ASSETS_PATH}/' in page.text
        for path, _ in assets():
            r = c.get(f"{ASSETS_PATH}/{path}")
            assert r.status_code == 200, path
            assert r.content == (ASSETS_DIR / path).read_bytes()
        assert c.get(f"{ASSETS_PATH}/../../app.py").status_code == 404
