"""The Celery worker: its entrypoint and the signal hooks that drive the job store."""
