"""The browser files the project serves itself (infra/vendor_assets.py) are vendored,
exactly the ones their pages pin: GraphiQL's (Strawberry's page) and the frontend
example's (nginx/app/index.html's import map)."""

from __future__ import annotations

import re

import pytest

from infra.vendor_assets import APP_DIR, SETS, AssetSet, app_assets, matches


@pytest.mark.parametrize("assets", SETS, ids=[s.name for s in SETS])
def test_every_pinned_file_is_vendored_with_its_hash(assets: AssetSet) -> None:
    pinned = assets.pins()
    assert pinned
    for path, integrity in pinned:
        assert matches((assets.directory / path).read_bytes(), integrity), path


def test_the_app_imports_only_what_its_import_map_pins() -> None:
    """Every module the app imports from vendor/ is pinned (a file without a pin would load
    unchecked), and the app's own modules import nothing else from outside."""
    pinned = {path for path, _ in app_assets()}
    vendored = {str(p.relative_to(APP_DIR / "vendor")) for p in (APP_DIR / "vendor").rglob("*.js")}
    assert vendored == pinned
    imported = {name for module in APP_DIR.glob("*.js")
                for name in re.findall(r'from "([^"]+)"', module.read_text())}
    assert imported == {"graphql-ws", "./api.js"}


def test_matches_checks_the_hash() -> None:
    assert matches(b"abc", "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
    assert not matches(b"abd", "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
