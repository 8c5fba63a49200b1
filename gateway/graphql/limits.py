"""What one GraphQL document may cost, from the settings. (The request body's size is
bounded for every route by gateway/body_limit.py.)"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from tasks.settings import Settings


def limit_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    # Factories, not instances: Strawberry builds fresh extensions for every operation.
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(MaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
        partial(QueryDepthLimiter, max_depth=settings.graphql_max_depth),
        partial(MaxAliasesLimiter, max_alias_count=settings.graphql_max_aliases),
    ]
    if not settings.graphql_introspection:
        extensions.append(DisableIntrospection)
    return extensions
