"""The checked-in SDL (gateway/graphql/schema.graphql) is what the code serves: clients generate
code from that file, so a change to the schema must come with `make schema`."""

from __future__ import annotations

from graphql import build_schema

from gateway.graphql.schema import SCHEMA_FILE, sdl


def test_schema_file_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text() == sdl(), (
        "gateway/graphql/schema.graphql is out of date: run `make schema` and commit it")


def test_schema_file_is_valid_sdl_with_the_public_operations() -> None:
    schema = build_schema(SCHEMA_FILE.read_text())
    mutation, query, subscription = (schema.mutation_type, schema.query_type,
                                     schema.subscription_type)
    assert mutation is not None and query is not None and subscription is not None
    assert set(mutation.fields) == {"submitWaitAndReturn", "submitSum", "submitJob",
                                    "cancelJob", "registerWebhook", "deleteWebhook",
                                    "rotateWebhookSecret", "enableWebhook",
                                    "redeliverWebhook", "recoverWebhook",
                                    "setWebhookRateLimit"}
    assert set(query.fields) == {"job", "jobs", "functions", "webhooks", "webhookMessages"}
    assert set(subscription.fields) == {"jobUpdated", "jobsUpdated"}
    assert str(mutation.fields["submitSum"].args["number"].type) == "BigInt!"
