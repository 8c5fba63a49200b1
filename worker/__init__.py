"""The two background processes: the Celery worker (`python -m worker`, `jobs/`) and the
webhook dispatcher (`python -m worker.dispatcher`, `webhooks/`)."""
