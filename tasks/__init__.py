"""What every process shares: settings, the Celery app's configuration, logging, metrics
in Redis, ids, Redis itself (`redis/`), jobs (`jobs/`: record, store, catalog, functions)
and webhooks (`webhooks/`: model, store, SSRF policy)."""
