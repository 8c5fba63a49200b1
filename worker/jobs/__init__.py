"""The Celery worker process: its app, the signal hooks that drive the job store, the
heartbeat, the shutdown grace period."""
