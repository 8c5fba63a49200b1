"""What the gateway and the worker share: settings, the Celery app, the function catalog
and the job store."""
