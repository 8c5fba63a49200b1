"""What one GraphQL document may cost, from the settings. (The request body's size is
bounded for every route by gateway/body_limit.py.)

One extension, with Strawberry's limiters' rules built once: as separate extensions they
cost every operation a set of hooks each, and the depth limiter builds a new rule class
per operation (which also defeats any cache of validation results)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from graphql import ASTValidationRule
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from tasks.settings import Settings


class DocumentLimits(SchemaExtension):
    """Tokens (counted by the parser), depth and aliases (validation rules), and
    introspection when the settings turn it off."""

    def __init__(self, max_tokens: int, rules: tuple[type[ASTValidationRule], ...]) -> None:
        self.max_tokens = max_tokens
        self.rules = rules

    @classmethod
    def factory(cls, settings: Settings) -> partial[DocumentLimits]:
        rules = [*QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules,
                 *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases)
                 .validation_rules]
        if not settings.graphql_introspection:
            rules += DisableIntrospection().validation_rules
        return partial(cls, settings.graphql_max_tokens, tuple(rules))

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        context.validation_rules = (*context.validation_rules, *self.rules)
        yield
