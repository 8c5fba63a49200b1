"""Parse and validate each GraphQL document once.

graphql-core's validation of even a one-field mutation runs some thirty rules over the
document and took about 40% of a `submitSum` request, parsing another 5%. Clients send
the same few documents again and again, with new variables; a document that parsed and
passed validation (limits included: they are validation rules, fixed per process) is
kept, and the next request with the same text skips both steps. Documents that fail are
not kept, so they cannot crowd out good ones; long documents are not kept either.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from graphql import DocumentNode
from strawberry.extensions import SchemaExtension

MAX_DOCUMENTS = 256
MAX_DOCUMENT_CHARS = 4096


class ValidDocuments:
    """The documents that passed parsing and validation, least recently used dropped."""

    def __init__(self, max_documents: int = MAX_DOCUMENTS) -> None:
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()
        self._max = max_documents

    def get(self, query: str) -> DocumentNode | None:
        document = self._documents.get(query)
        if document is not None:
            self._documents.move_to_end(query)
        return document

    def add(self, query: str, document: DocumentNode) -> None:
        if len(query) > MAX_DOCUMENT_CHARS:
            return
        self._documents[query] = document
        if len(self._documents) > self._max:
            self._documents.popitem(last=False)

    def __len__(self) -> int:
        return len(self._documents)


class DocumentCache(SchemaExtension):
    def __init__(self, documents: ValidDocuments) -> None:
        self.documents = documents
        self.hit = False

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        document = self.documents.get(context.query) if context.query else None
        if document is not None:
            context.graphql_document = document  # Strawberry then does not parse
            self.hit = True
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if self.hit:
            context.pre_execution_errors = []  # Strawberry then does not validate
        yield
        if (not self.hit and context.query and context.graphql_document is not None
                and context.pre_execution_errors == []):
            self.documents.add(context.query, context.graphql_document)
