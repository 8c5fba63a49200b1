"""The `persistedQuery` extension of a GraphQL request, as Apollo's automatic persisted
queries define it (also sent by urql, graphql-request's APQ link, gql ...):

    {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<64 hex digits>"}}}

with or without the document in `query`. Anything else under that name is not a
persisted-query request and gets a 400 with what is wrong; an unknown hash gets Apollo's
PersistedQueryNotFound error with HTTP 200, which is what tells a client to send the
document with its hash."""

from __future__ import annotations

import re

import orjson
from cross_web import HTTPException
from starlette.responses import Response

EXTENSION = "persistedQuery"
VERSION = 1
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
NOT_FOUND_CODE = "PERSISTED_QUERY_NOT_FOUND"
NOT_FOUND_BODY = orjson.dumps({"errors": [{"message": "PersistedQueryNotFound",
                                           "extensions": {"code": NOT_FOUND_CODE}}]})


class PersistedQueryNotFound(Exception):
    """No document is known by this hash (yet): the client should send it."""


def not_found_response() -> Response:
    return Response(NOT_FOUND_BODY, media_type="application/json")


def requested_hash(extensions: object) -> str | None:
    """The lowercase sha256Hash a request's `extensions` asks for; None when it has no
    persistedQuery; HTTPException(400) when the extension is malformed."""
    if not isinstance(extensions, dict) or EXTENSION not in extensions:
        return None
    persisted = extensions[EXTENSION]
    if not isinstance(persisted, dict):
        raise HTTPException(400, "extensions.persistedQuery must be an object: "
                                 '{"version": 1, "sha256Hash": "<64 hex digits>"}')
    version = persisted.get("version")
    if type(version) is not int or version != VERSION:
        raise HTTPException(400, f"extensions.persistedQuery.version must be {VERSION} "
                                 f"(the only version of the protocol), got {version!r:.40}")
    sha = persisted.get("sha256Hash")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise HTTPException(400, "extensions.persistedQuery.sha256Hash must be the SHA-256 "
                                 "of the document as 64 hex digits")
    return sha.lower()


def hash_mismatch() -> HTTPException:
    return HTTPException(400, "extensions.persistedQuery.sha256Hash is not the SHA-256 of the "
                              "query sent with it (hash the exact text of `query`, UTF-8)")


def not_listed(sha: str) -> HTTPException:
    return HTTPException(400, f"operation {sha} is not in this gateway's allow-list "
                              "(GRAPHQL_OPERATIONS_MANIFEST): only the frontend build's "
                              "persisted operations run here")
