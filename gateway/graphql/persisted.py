"""Persisted queries: a client sends a document's SHA-256 instead of the document
(persisted_request.py has the protocol).

Two ways to know a hash:
- automatic (the default): a client sends the document once with its hash; the hash is
  checked, and once the document has run and passed parsing and validation under the
  document limits (it is then in the cache of valid documents), it is stored in Redis
  (tasks/persisted_queries/store.py), globally: a document is named by its own hash and
  holds no tenant data (variables carry it), so one tenant's registration only saves
  another a round trip, and cannot change what another's hash means. Each process keeps
  the hashes it has met in a bounded local cache in front of Redis.
- an allow-list (GRAPHQL_OPERATIONS_MANIFEST, persisted_manifest.py): only its operations
  run, by hash or by their document; nothing is registered.

Known hashes of known-good documents take the prepared path (`known`, called by
prepared.py); everything else is resolved here before Strawberry's full path (`resolve`,
then `remember` after the operation ran)."""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from typing import Any

from cross_web import HTTPException
from redis.exceptions import RedisError
from strawberry.http import GraphQLRequestData

from gateway.graphql.document_cache import ValidDocuments
from gateway.graphql.persisted_manifest import sha256_hex
from gateway.graphql.persisted_request import (
    PersistedQueryNotFound,
    hash_mismatch,
    not_listed,
    requested_hash,
)
from gateway.services.errors import Unavailable
from gateway.services.metrics import PERSISTED_QUERIES
from tasks.persisted_queries.store import PersistedQueryStore

log = logging.getLogger("gateway.graphql")
LOCAL_MAX = 1024  # hashes one process keeps in front of Redis, least recently used dropped
HIT, NOT_FOUND, REGISTERED = (PERSISTED_QUERIES.labels(outcome)
                              for outcome in ("hit", "not_found", "registered"))


class PersistedQueries:
    def __init__(self, max_documents: int, allow_list: dict[str, str] | None) -> None:
        self.max_documents = max_documents
        self.allow_list = allow_list
        self._local: OrderedDict[str, str] = OrderedDict()
        self._store: PersistedQueryStore | None = None

    def known(self, data: dict[str, Any], documents: ValidDocuments) -> dict[str, Any] | None:
        """The prepared path's view of a decoded request body: unchanged without the
        extension (None under an allow-list: the full path checks it), the request with
        its document when the hash is known here and the document known good, else None
        (the full path answers: an unknown hash, a document to register, a bad extension)."""
        extensions = data.get("extensions")
        if extensions is None:
            return data if self.allow_list is None else None
        if "query" in data:
            return None
        try:
            sha = requested_hash(extensions)
        except HTTPException:  # malformed: the full path says what is wrong
            return None
        query = self._known_locally(sha) if sha is not None else None
        if query is None or documents.get(query) is None:
            return None
        HIT.inc()
        return {"query": query, "variables": data.get("variables"),
                "operationName": data.get("operationName")}

    async def resolve(self, data: GraphQLRequestData, state: Any) -> GraphQLRequestData:
        """The request the full path runs: a hash alone becomes its document, a document
        sent with a hash must match it, and an allow-list refuses what it does not list."""
        sha = requested_hash(data.extensions)
        if sha is not None and data.query is not None and sha256_hex(data.query) != sha:
            raise hash_mismatch()
        if self.allow_list is not None:
            listed = sha if sha is not None or data.query is None else sha256_hex(data.query)
            if listed is not None and listed not in self.allow_list:
                raise not_listed(listed)
        if sha is None or data.query is not None:
            return data  # a document sent with its hash is registered by `remember` once run
        query = self._known_locally(sha) or await self._fetch(sha, state)
        if query is None:
            NOT_FOUND.inc()
            raise PersistedQueryNotFound(sha)
        HIT.inc()
        return dataclasses.replace(data, query=query)

    async def remember(self, data: GraphQLRequestData, documents: ValidDocuments,
                       state: Any) -> None:
        """After a document sent with its hash ran: keep it, if it passed parsing and
        validation (the cache of valid documents holds it; too long a document is not
        held there, and is not kept either)."""
        if self.allow_list is not None or not self.max_documents or data.query is None:
            return
        sha = requested_hash(data.extensions)
        if sha is None or sha in self._local or documents.get(data.query) is None:
            return
        self._keep(sha, data.query)
        try:
            if await self._store_of(state).add(sha, data.query):
                REGISTERED.inc()
        except RedisError as exc:  # the answer stands; other processes learn it next time
            log.warning("persisted query %s not stored in Redis: %s", sha, exc)

    def allows(self, query: str) -> bool:
        """Whether an operation sent as text (a subscription) may run."""
        return self.allow_list is None or sha256_hex(query) in self.allow_list

    def _known_locally(self, sha: str) -> str | None:
        if self.allow_list is not None:
            return self.allow_list.get(sha)
        query = self._local.get(sha)
        if query is not None:
            self._local.move_to_end(sha)
        return query

    def _keep(self, sha: str, query: str) -> None:
        self._local[sha] = query
        if len(self._local) > LOCAL_MAX:
            self._local.popitem(last=False)

    async def _fetch(self, sha: str, state: Any) -> str | None:
        if not self.max_documents:
            return None
        try:
            query = await self._store_of(state).get(sha)
        except RedisError as exc:
            raise Unavailable("persisted queries: Redis is unreachable") from exc
        if query is not None:
            self._keep(sha, query)
        return query

    def _store_of(self, state: Any) -> PersistedQueryStore:
        client = state.service.store.client  # the app's Redis client, made at its start
        if self._store is None or self._store.client is not client:
            self._store = PersistedQueryStore(client, self.max_documents)
        return self._store
