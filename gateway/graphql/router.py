"""/graphql: GraphiQL on GET from a browser, queries and mutations on POST (and queries on
GET), subscriptions over WebSocket with the graphql-transport-ws protocol (not the deprecated
Apollo `graphql-ws` one, which allows subscriptions only)."""

from __future__ import annotations

from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from gateway.graphql.context import GatewayContext, get_context
from gateway.graphql.limits import limit_extensions
from gateway.graphql.schema import build_schema
from tasks.settings import Settings

PATH = "/graphql"


def graphql_router(settings: Settings) -> GraphQLRouter[GatewayContext, None]:
    schema = build_schema(limit_extensions(settings), settings.graphql_introspection)
    return GraphQLRouter(schema, path=PATH, context_getter=get_context, tags=["graphql"],
                         subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL])
