"""The REST face: routes under /producer/api, their models, dependencies and error mapping."""
