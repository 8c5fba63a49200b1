"""The allow-list: the operation manifest a frontend build produces, in Apollo's format
(`npx generate-persisted-query-manifest`):

    {"format": "apollo-persisted-query-manifest", "version": 1,
     "operations": [{"id": "<sha256 of body>", "name": "Submit", "type": "mutation",
                     "body": "mutation Submit($n: BigInt!) { ... }"}]}

Read once at start (GRAPHQL_OPERATIONS_MANIFEST); a file that is not such a manifest stops
the gateway with a message saying what is wrong, rather than letting it serve with a
partial list. Each `id` must be the SHA-256 of its `body` (Apollo's default id): clients
send that hash as the `persistedQuery` extension's `sha256Hash`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson

FORMAT = "apollo-persisted-query-manifest"
OPERATION_TYPES = frozenset({"query", "mutation", "subscription"})


class ManifestError(ValueError):
    pass


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def load_manifest(path: str) -> dict[str, str]:
    """The listed documents by their hash."""
    where = f"GRAPHQL_OPERATIONS_MANIFEST {path}"
    try:
        data = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise ManifestError(f"{where}: cannot read it ({exc.strerror})") from exc
    except orjson.JSONDecodeError as exc:
        raise ManifestError(f"{where}: not JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != 1:
        raise ManifestError(f'{where}: expected {{"format": "{FORMAT}", "version": 1, ...}}')
    operations = data.get("operations")
    if not isinstance(operations, list):
        raise ManifestError(f"{where}: 'operations' must be a list")
    documents: dict[str, str] = {}
    for number, operation in enumerate(operations, 1):
        body = operation.get("body") if isinstance(operation, dict) else None
        if not isinstance(body, str) or operation.get("type") not in OPERATION_TYPES:
            raise ManifestError(f"{where}: operation {number} needs a string 'body' and a "
                                f"'type' of {', '.join(sorted(OPERATION_TYPES))}")
        if operation.get("id") != sha256_hex(body):
            raise ManifestError(f"{where}: operation {number} ({operation.get('name')}): "
                                "'id' is not the SHA-256 (hex) of its 'body'")
        documents[operation["id"]] = body
    return documents
