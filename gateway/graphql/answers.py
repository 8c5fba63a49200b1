"""The HTTP answer of an operation whose document is known good (prepared.py).

A compiled plan (compiled.py) answers alone when its root resolver's value projects: a
plan's root resolvers (root_call.ROOT_FIELDS) set no headers, so it needs the context and
the encoded body, in a response made as the view's `create_response` makes it (same
encoder, status 200, application/json). Otherwise the executor writes the answer, with
what the view does per request around an operation (a sub-response for resolvers to set
headers on, Strawberry's result processing and response): when no plan takes the
operation, or with the resolver's outcome (root_call.known_outcome) when that is an
error, so its codes and masking are the full path's.
"""

from __future__ import annotations

from typing import Any, Protocol

from graphql import GraphQLSchema
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope
from strawberry.schema.base import BaseSchema

from gateway.graphql import compiled, prepared
from gateway.graphql.context import http_context
from gateway.graphql.root_call import ContextOnly, Outcome, known_outcome

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


async def answer(view: View, operation: prepared.Prepared, scope: Scope,
                 receive: Receive) -> Response:
    """A known-good operation's answer: a compiled plan's, or the executor's when no plan
    takes it (nothing has run yet) or the plan's outcome is an error. (A plan's answer
    needs no Starlette Request: only the executor's way builds one.)"""
    plan = view.plans.plan(operation)
    arguments = None if plan is None else plan.arguments.coerce(operation.variables)
    context = await http_context(scope)  # the key, and a token of its rate limit
    outcome = None
    if plan is not None and arguments is not None:
        # The root resolver called here, not in a function of compiled.py: each
        # coroutine between the request and Redis costs every request its resumption.
        try:
            value = await plan.resolver(None, info=ContextOnly(context), **arguments)
        except Exception as exc:
            outcome = Outcome(error=exc)
        else:
            projected = compiled.project(plan, value)
            if isinstance(projected, dict):
                return Response(view.encode_json(projected), media_type=JSON_TYPE)
            outcome = projected
    request = Request(scope, receive)
    context.request = request
    sub_response = await view.get_sub_response(request)
    context.response = sub_response
    result = await prepared.run(view.graphql_schema, operation, context,
                                None if outcome is None else known_outcome(outcome))
    if result.errors:
        view.schema.process_errors(result.errors)
    data = await view.process_result(request, result)
    return view.create_response(data, sub_response)
