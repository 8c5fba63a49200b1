"""Persisted-query requests for the tests: a document's hash, the extension, bodies by hash
alone or with the document, and an in-process gateway on a real Redis to send them to."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from gateway.app import build_api
from gateway.graphql.router import GatewayGraphQL
from tasks.settings import Settings


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def extension(document_hash: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": document_hash}}


def by_hash(document: str, variables: dict[str, Any] | None = None,
            with_document: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"variables": variables, "extensions": extension(sha(document))}
    if with_document:
        body["query"] = document
    return body


@asynccontextmanager
async def gateway_app(redis_url: str, **settings: Any
                      ) -> AsyncIterator[tuple[httpx.AsyncClient, GatewayGraphQL]]:
    """A gateway app in this process (its lifespan run), and a client of it."""
    api = build_api(Settings(_env_file=None, redis_url=redis_url, **settings))
    transport = httpx.ASGITransport(app=api)
    async with (api.router.lifespan_context(api),
                httpx.AsyncClient(transport=transport, base_url="http://gw") as client):
        yield client, api.state.graphql
