"""/graphql: GraphiQL on GET from a browser, queries and mutations on POST (and queries on
GET), subscriptions over WebSocket with the graphql-transport-ws protocol (not the deprecated
Apollo `graphql-ws` one, which allows subscriptions only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from gateway.errors import Unauthorized
from gateway.graphiql_assets import local_html
from gateway.graphql.context import GatewayContext, get_context
from gateway.graphql.limits import limit_extensions
from gateway.graphql.schema import build_schema
from tasks.settings import Settings

PATH = "/graphql"


class GatewayGraphQLRouter(GraphQLRouter[GatewayContext, None]):
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
    schema = build_schema(limit_extensions(settings), settings.graphql_introspection)
    return GatewayGraphQLRouter(schema, path=PATH, context_getter=get_context,
                                tags=["graphql"],
                                # GraphQL documents itself (introspection, schema.graphql);
                                # the OpenAPI document is the REST API's.
                                include_in_schema=False,
                                subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL])
