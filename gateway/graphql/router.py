"""/graphql: GraphiQL on GET from a browser, queries and mutations on POST (and queries on
GET), subscriptions over WebSocket with the graphql-transport-ws protocol (not the deprecated
Apollo `graphql-ws` one, which allows subscriptions only)."""

from __future__ import annotations

from functools import partial
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.requests import Request
from starlette.responses import HTMLResponse
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from gateway.errors import Unauthorized
from gateway.graphiql_assets import local_html
from gateway.graphql.context import GatewayContext, get_context
from gateway.graphql.document_cache import DocumentCache, ValidDocuments
from gateway.graphql.limits import DocumentLimits
from gateway.graphql.schema import build_schema
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


class GatewayGraphQLRouter(GraphQLRouter[GatewayContext, None]):
    async def execute_operation(
        self, request: Any, request_adapter: Any, request_data: Any, *args: Any, **kwargs: Any
    ) -> Any:
        """A subscription in a plain HTTP request would run as a query and fail inside;
        say plainly where subscriptions go instead."""
        if (isinstance(request_data, GraphQLRequestData)
                and self._get_stream_transport(request_data.protocol) is None
                and _is_subscription(request_data)):
            raise HTTPException(400, "subscriptions run over a WebSocket at /graphql "
                                     "(graphql-transport-ws protocol), not a plain HTTP request")
        return await super().execute_operation(request, request_adapter, request_data,
                                               *args, **kwargs)

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


def graphql_router(settings: Settings) -> GraphQLRouter[GatewayContext, None]:
    # One cache of valid documents per schema, shared by every operation's extension.
    documents = ValidDocuments()
    schema = build_schema([partial(DocumentCache, documents), DocumentLimits.factory(settings)],
                          settings.graphql_introspection)
    return GatewayGraphQLRouter(schema, path=PATH, context_getter=get_context,
                                tags=["graphql"],
                                # GraphQL documents itself (introspection, schema.graphql);
                                # the OpenAPI document is the REST API's.
                                include_in_schema=False,
                                subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL])
