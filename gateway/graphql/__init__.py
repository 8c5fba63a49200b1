"""The GraphQL face of the gateway: a Strawberry schema at /graphql over the job service.

`schema.py` holds the operations (thin resolvers over gateway/services/jobs.py), `types.py` the
object types, `scalars.py` BigInt, `errors.py` the error codes and masking, `limits.py` the
cost limits, `router.py` the ASGI app (GraphiQL, POST, GET, graphql-transport-ws),
`transport_ws.py` its checks of WebSocket messages, `prepared.py` the fast path of known
documents, `document_cache.py` the cache of valid documents, `persisted.py` persisted
queries (`persisted_request.py` the protocol, `persisted_manifest.py` the allow-list,
`get_caching.py` the cache headers of GET answers), `context.py` what resolvers
get, `webhook_types.py` the webhook types, `graphiql.py` the GraphiQL page and its local
assets (`static/`); `schema.graphql` is the SDL (`make schema`).
"""
