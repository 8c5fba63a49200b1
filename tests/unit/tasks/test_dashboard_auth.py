"""The dashboard credentials check (tasks/dashboard_auth.py): only a well-formed basic
header carrying a configured pair passes; anything malformed is a refusal, never an error."""

from __future__ import annotations

import base64

import pytest

from tasks.dashboard_auth import authorized, pairs

CREDENTIALS = pairs("ann:pw:with:colons,bob:x")


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_pairs_split_on_the_first_colon() -> None:
    assert CREDENTIALS == [("ann", "pw:with:colons"), ("bob", "x")]
    assert pairs("") == []


@pytest.mark.parametrize("header", [basic("ann:pw:with:colons"), basic("bob:x"),
                                    "basic " + basic("bob:x")[6:], "  " + basic("bob:x")])
def test_a_configured_pair_passes(header: str) -> None:
    assert authorized(header, CREDENTIALS)


@pytest.mark.parametrize("header", [
    None, "", "Basic", "Basic ", basic("bob:y"), basic("bob"), basic("bob:x,ann"),
    basic("ann:pw"), "Bearer " + basic("bob:x")[6:], "Basic !!!notbase64", "Basic Ym9iOng",
    "Basic Ym9iOnjpAA==", "Basic bob:x", "Basic Ym9i\u00e9Ong=", basic("bob:x") + " extra",
])
def test_anything_else_is_refused(header: str | None) -> None:
    assert not authorized(header, CREDENTIALS)


def test_no_credentials_configured_refuses_everyone() -> None:
    assert not authorized(basic(":"), [])
    assert not authorized(basic("bob:x"), [])
