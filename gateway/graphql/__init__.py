"""The GraphQL face of the gateway: a Strawberry schema at /graphql over the job service.

`schema.py` holds the operations (thin resolvers over gateway/service.py), `types.py` the
object types, `scalars.py` BigInt, `errors.py` the error codes and masking, `limits.py` the
cost limits, `router.py` the FastAPI router (GraphiQL, POST, graphql-transport-ws).
"""
