"""/graphql: GraphiQL on GET from a browser, queries and mutations on POST (and queries on
GET), subscriptions over WebSocket with the graphql-transport-ws protocol (not the deprecated
Apollo `graphql-ws` one, which allows subscriptions only)."""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from gateway.asgi.body import read_body, replay
from gateway.asgi.errors import error_response, internal_error
from gateway.asgi.headers import first_header
from gateway.graphql import answers, compiled, prepared
from gateway.graphql.context import GatewayContext, app_state, context_of
from gateway.graphql.document_cache import DocumentCache, ValidDocuments
from gateway.graphql.errors import GatewaySchema
from gateway.graphql.get_caching import mark_get_answer
from gateway.graphql.graphiql import local_html
from gateway.graphql.limits import DocumentLimits
from gateway.graphql.persisted import PersistedQueries
from gateway.graphql.persisted_manifest import load_manifest
from gateway.graphql.persisted_request import PersistedQueryNotFound, not_found_response
from gateway.graphql.schema import build_schema
from gateway.graphql.transport_ws import BoundedWebSocketAdapter, CheckedTransportWS
from gateway.services import json_input
from gateway.services.errors import GatewayError, InvalidJson, Unauthorized
from tasks.settings import Settings

PATH = "/graphql"


def _is_subscription(data: GraphQLRequestData) -> bool:
    if not data.query or "subscription" not in data.query:  # cheap: most requests stop here
        return False
    try:
        operation = get_operation_ast(parse(data.query), data.operation_name)
    except GraphQLError:
        return False  # the normal path reports the syntax error
    return operation is not None and operation.operation is OperationType.SUBSCRIPTION


class GatewayGraphQL(GraphQL[GatewayContext, None]):
    """Strawberry's plain ASGI app, routed by the FastAPI app (and by the express lane)
    without FastAPI's dependency solving, which cost each operation about 40%.

    Over HTTP the API key is checked before the body is read; JSON (bodies, the
    `variables` and `extensions` of a GET, WebSocket messages) is decoded within the
    bounds of gateway/services/json_input.py, and JSON out of them is a 400 like any body that is
    not a GraphQL request (a WebSocket closes with 4400: transport_ws.py)."""

    websocket_adapter_class = BoundedWebSocketAdapter
    graphql_transport_ws_handler_class = CheckedTransportWS

    def __init__(self, schema: GatewaySchema, documents: ValidDocuments,
                 persisted: PersistedQueries) -> None:
        super().__init__(schema, subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL])
        self.documents = documents
        self.persisted = persisted  # persisted queries (persisted.py)
        self.graphql_schema = schema._schema
        # Known-good documents skip Strawberry's per-operation machinery (prepared.py),
        # unless an extension needs it.
        self.prepared_path = prepared.only_parse_and_validate(schema.extensions)
        self.plans = compiled.Plans(schema)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            # No key (when keys are on): 401, before any body is read.
            await app_state(scope["app"])["authenticator"].caller_for(scope)
            response = None
            if self.prepared_path and scope["method"] == "POST":
                body = await read_body(receive)
                content_type = first_header(scope, b"content-type") or b""
                operation = prepared.prepare(self.documents, content_type.decode("latin-1"),
                                             body, self.decode_json,
                                             self.persisted)  # persisted queries: known hashes
                if operation is not None:
                    response = await answers.answer(self, operation, scope, receive)
                else:
                    receive = replay(body, receive)  # Strawberry's path reads it again
            if response is None:
                response = await self.run(Request(scope, receive))
        except HTTPException as exc:
            response = _request_error(exc.status_code, exc.reason)
        except InvalidJson as exc:
            response = _request_error(400, exc.message)
        except GatewayError as exc:  # no key (401), rate limited (429), Redis down (503)
            response = error_response(exc)
        except PersistedQueryNotFound:  # persisted queries: the client sends the document next
            response = not_found_response()
        except ClientDisconnect:
            return  # the client left, or its body was over the limit (answered 413)
        except Exception as exc:  # a bug: logged, and a masked 500 (the express lane
            response = internal_error(exc)  # hands POSTs here, past FastAPI's handlers)
        if scope["method"] == "GET":  # persisted queries: what caches may keep (get_caching.py)
            mark_get_answer(response)
        await response(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        return json_input.loads(data)

    def encode_json(self, data: object) -> str | bytes:
        """Answers in orjson, as REST's are: Strawberry's json.dumps cost a compiled
        job(id) about 7% of its CPU (py-spy under wrk). The same JSON but for its form
        (UTF-8 where json escapes, a float's shortest spelling); what orjson refuses (an
        integer beyond 64 bits, a lone surrogate) goes json's way as before. Text, not
        bytes: a WebSocket sends bytes as a binary frame, which clients refuse."""
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            return super().encode_json(data)

    def parse_json(self, data: str | bytes) -> Any:
        """A request body, or a GET's `variables` or `extensions`: an object (or a list,
        a batch, which Strawberry refuses with its own message). Strawberry took any
        other JSON value for a request and failed on it with a 500."""
        decoded = super().parse_json(data)
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, f"expected a JSON object, got {_json_kind(decoded)}")
        return decoded

    async def get_context(self, request: Request | WebSocket,
                          response: Response | WebSocket) -> GatewayContext:
        context = await context_of(request)
        context.request = request
        context.response = response if isinstance(response, Response) else None
        return context

    async def execute_operation(
        self, request: Any, request_adapter: Any, request_data: Any, *args: Any, **kwargs: Any
    ) -> Any:
        """A subscription in a plain HTTP request would run as a query and fail inside;
        say plainly where subscriptions go instead. Persisted queries: a hash becomes its
        document before, a document sent with its hash is kept after (persisted.py)."""
        if isinstance(request_data, GraphQLRequestData):  # persisted queries
            request_data = await self.persisted.resolve(request_data, request.app.state)
        if (isinstance(request_data, GraphQLRequestData)
                and self._get_stream_transport(request_data.protocol) is None
                and _is_subscription(request_data)):
            raise HTTPException(400, "subscriptions run over a WebSocket at /graphql "
                                     "(graphql-transport-ws protocol), not a plain HTTP request")
        result = await super().execute_operation(request, request_adapter, request_data,
                                                 *args, **kwargs)
        if isinstance(request_data, GraphQLRequestData):  # persisted queries
            await self.persisted.remember(request_data, self.documents, request.app.state)
        return result

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET by persisted hash has no `query` either; it is not a browser asking for GraphiQL.
        return (super().should_render_graphql_ide(request)
                and "extensions" not in request.query_params)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(local_html())  # its files come from us, not unpkg.com

    async def on_ws_connect(self, context: GatewayContext) -> UnsetType | dict[str, object] | None:
        """connection_init: the API key is checked here; a refused one closes the socket
        with 4403 before any subscription starts."""
        request = context.request
        headers = dict(request.headers) if request is not None else {}
        try:
            await context.authenticate_websocket(headers)
        except Unauthorized as exc:
            raise ConnectionRejectionError({"message": exc.message}) from exc
        return None  # acknowledge with no payload


def _request_error(status: int, message: str) -> Response:
    """A request that is not a GraphQL request, answered as GraphQL over HTTP says: the
    status and `{"errors": [{"message"}]}`, so a client reads it where it reads every error
    (Strawberry's own answer here is text/plain)."""
    return Response(orjson.dumps({"errors": [{"message": message}]}), status_code=status,
                    media_type="application/json")


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a string" if isinstance(value, str) else "a number"


def graphql_app(settings: Settings) -> GatewayGraphQL:
    # One cache of valid documents per schema, shared by every operation's extension.
    documents = ValidDocuments()
    schema = build_schema([partial(DocumentCache, documents), DocumentLimits.factory(settings)],
                          settings.graphql_introspection)
    manifest = settings.graphql_operations_manifest
    persisted = PersistedQueries(settings.graphql_persisted_max,
                                 load_manifest(manifest) if manifest else None)
    return GatewayGraphQL(schema, documents, persisted)
