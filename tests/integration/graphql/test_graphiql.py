"""The gateway serves GraphiQL's page and its files locally."""

from __future__ import annotations

import httpx

from gateway.graphql.graphiql import ASSETS_DIR, ASSETS_PATH, assets
from tests.support.servers import Gateway


def test_gateway_serves_the_page_and_its_files(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url) as c:
        page = c.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and f'src="{ASSETS_PATH}/' in page.text
        for path, _ in assets():
            r = c.get(f"{ASSETS_PATH}/{path}")
            assert r.status_code == 200, path
            assert r.content == (ASSETS_DIR / path).read_bytes()
        assert c.get(f"{ASSETS_PATH}/../../app.py").status_code == 404
