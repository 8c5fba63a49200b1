"""The REST face: routes under API_PREFIX, their models, dependencies and error mapping,
and the express lane that serves the hottest of them past FastAPI's machinery."""

API_PREFIX = "/producer/api"  # the reference's prefix, kept for its clients
