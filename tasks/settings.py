"""Every setting of the gateway, the worker and the local stack, in one class.

Values come from environment variables, then `.env`, then the defaults below.
`.env.example` documents each one; a test keeps the two in step.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

JOB_TIME_MARGIN_SECONDS = 10.0  # a job may run this long past WAIT_MAX_SECONDS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"

    # Redis: the job store, pub/sub for job events, and the default Celery broker.
    redis_port: int = Field(6380, ge=1, le=65535)
    redis_url: str = ""  # empty: the local stack's private redis-server on REDIS_PORT
    redis_timeout_seconds: float = Field(2.0, gt=0, le=60)

    # Celery. The broker defaults to REDIS_URL; amqp:// (RabbitMQ) works too.
    celery_broker_url: str = ""
    # Results live in the job store; a Celery result backend is optional (reference compat).
    celery_result_backend: str = ""
    celery_queue: str = "celery"
    celery_visibility_timeout: int = Field(3600, ge=10)
    worker_concurrency: int = Field(2, ge=1, le=64)
    job_max_attempts: int = Field(3, ge=1, le=20)
    # Celery task events feed Flower's live task view; each job then costs three event
    # publishes in the worker (about a quarter of its throughput on trivial jobs).
    worker_task_events: bool = True

    # The job registry.
    job_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)

    # Function bounds.
    sum_max_number: int = Field(50_000_000, ge=1)
    wait_max_seconds: float = Field(300.0, gt=0)

    # HTTP.
    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(8000, ge=1, le=65535)
    max_body_bytes: int = Field(64 * 1024, ge=256)

    @property
    def longest_job_seconds(self) -> float:
        """The default hard time limit of a job function."""
        return self.wait_max_seconds + JOB_TIME_MARGIN_SECONDS

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def effective_broker_url(self) -> str:
        return self.celery_broker_url or self.effective_redis_url

    @property
    def broker_is_redis(self) -> bool:
        return self.effective_broker_url.startswith(("redis://", "rediss://", "unix://"))

    @model_validator(mode="after")
    def _visibility_outlasts_jobs(self) -> Settings:
        # A Redis broker redelivers any message unacknowledged for this long; a job that is
        # still running then would run twice.
        if self.celery_visibility_timeout <= self.longest_job_seconds:
            raise ValueError(
                "CELERY_VISIBILITY_TIMEOUT must exceed the longest job, WAIT_MAX_SECONDS + "
                f"{JOB_TIME_MARGIN_SECONDS:.0f} (got {self.celery_visibility_timeout} <= "
                f"{self.longest_job_seconds})"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    # GATEWAY_ENV_FILE points at another file (the tests use /dev/null to ignore .env).
    return Settings(_env_file=os.environ.get("GATEWAY_ENV_FILE", ".env"))
