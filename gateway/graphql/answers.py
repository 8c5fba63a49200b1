"""The HTTP answer of a request a compiled plan takes (compiled.py).

What the view does per request around an operation (a sub-response for resolvers to set
headers on, a context, Strawberry's result processing and response) is built here only
when the executor has to write the answer: a plan's root resolvers (root_call.ROOT_FIELDS)
set no headers, so a plan that answers alone needs the context and the encoded body, in
a response made as the view's `create_response` makes it (same encoder, status 200,
application/json). A result that is an error goes through the view's own steps, with the
resolver's outcome (root_call.known_outcome), so its codes and masking are the full
path's.
"""

from __future__ import annotations

from typing import Any, Protocol

from graphql import GraphQLSchema
from starlette.requests import Request
from starlette.responses import Response
from strawberry.schema.base import BaseSchema

from gateway.graphql import compiled, prepared
from gateway.graphql.context import context_of
from gateway.graphql.root_call import known_outcome

JSON_TYPE = "application/json"


class View(Protocol):
    """What of the view (router.GatewayGraphQL) an answer uses."""

    plans: compiled.Plans
    schema: BaseSchema
    graphql_schema: GraphQLSchema

    def encode_json(self, data: object) -> str | bytes: ...
    async def get_sub_response(self, request: Request) -> Response: ...
    async def process_result(self, request: Request, result: Any) -> Any: ...
    def create_response(self, response_data: Any, sub_response: Response) -> Response: ...


async def answer(view: View, operation: prepared.Prepared,
                 request: Request) -> Response | None:
    """The answer, or None when no plan takes this request (the view runs it as
    before; nothing has run yet)."""
    plan = view.plans.plan(operation)
    arguments = None if plan is None else plan.arguments.coerce(operation.variables)
    if plan is None or arguments is None:
        return None
    context = await context_of(request)  # the key, and a token of its rate limit
    context.request = request
    outcome = await compiled.resolve(plan, arguments, context)
    if isinstance(outcome, dict):
        return Response(view.encode_json(outcome), media_type=JSON_TYPE)
    sub_response = await view.get_sub_response(request)
    context.response = sub_response
    result = await prepared.run(view.graphql_schema, operation, context,
                                known_outcome(outcome))
    if result.errors:
        view.schema.process_errors(result.errors)
    data = await view.process_result(request, result)
    return view.create_response(data, sub_response)
