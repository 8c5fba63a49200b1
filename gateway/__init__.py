"""The gateway process: REST and GraphQL over one job service, and the webhook endpoints'
API. `app.py` builds it; `asgi/` are the layers every request passes, `rest/` and
`graphql/` the two faces, `services/` what both faces call; `keys.py` is the API-key CLI."""
