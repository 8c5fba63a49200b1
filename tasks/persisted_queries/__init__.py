"""GraphQL documents clients registered by hash (automatic persisted queries), kept in Redis
so that every gateway process knows them (gateway/graphql/persisted.py reads and adds)."""
