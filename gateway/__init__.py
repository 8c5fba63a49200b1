"""The HTTP gateway: REST under /producer/api, health, and (later) GraphQL."""
