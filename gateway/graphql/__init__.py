"""The GraphQL face of the gateway: a Strawberry schema at /graphql over the job service.

`schema.py` holds the operations (thin resolvers over gateway/services/jobs.py), `types.py` the
object types, `scalars.py` BigInt, `errors.py` the error codes and masking, `limits.py` the
cost limits, `router.py` the ASGI app (GraphiQL, POST, GET, graphql-transport-ws),
`transport_ws.py` its checks of WebSocket messages, `prepared.py` the fast path of known
documents, `document_cache.py` the cache of valid documents, `context.py` what resolvers
get, `webhook_types.py` the webhook types, `graphiql.py` the GraphiQL page and its local
assets (`static/`); `schema.graphql` is the SDL (`make schema`).
"""
