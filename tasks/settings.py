"""Every setting of the gateway, the worker and the local stack, in one class.

Values come from environment variables, then `.env`, then the defaults below.
`.env.example` documents each one; a test keeps the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tasks.queues import (
    LONG,
    QUEUE_NAME_PATTERN,
    check_names,
    check_policy_values,
    queue_names,
)
from tasks.redis.config import (
    check_data_url,
    check_master_name,
    parse_sentinels,
    sentinel_broker_url,
)
from tasks.webhooks.config import (
    DEVELOPMENT_ENCRYPTION_KEY,
    DEVELOPMENT_WEBHOOK_SECRET,
    ENCRYPTION_KEYGEN_COMMAND,
    KEYGEN_COMMAND,
    check_webhook_secret,
    parse_encryption_keys,
    parse_networks,
    parse_ports,
    parse_retry_schedule,
)
from tasks.webhooks.flow import BreakerPolicy

PLACEHOLDER_PREFIXES = ("changeme", "change-me", "change_me", "example", "secret", "xxx")
JOB_TIME_MARGIN_SECONDS = 10.0  # a job may run this long past WAIT_MAX_SECONDS
LOST_AFTER_REDIS_TIMEOUTS = 2  # WORKER_LOST_AFTER_SECONDS is at least this many Redis timeouts

# Settings written as comma-separated lists, and the parser that checks each.
LIST_SETTINGS: dict[str, Callable[[str], object]] = {
    "webhook_retry_schedule": parse_retry_schedule,
    "webhook_allowed_networks": parse_networks,
    "webhook_allowed_ports": parse_ports,
}


class Settings(BaseSettings):
    # hide_input_in_errors: a bad value is never echoed (it may hold a password).
    model_config = SettingsConfigDict(env_file=".env", extra="ignore",
                                      hide_input_in_errors=True)

    environment: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"

    # Redis: the job store, pub/sub for job events, and the default Celery broker.
    redis_port: int = Field(6380, ge=1, le=65535)
    redis_url: str = ""  # empty: the local stack's private redis-server on REDIS_PORT
    redis_timeout_seconds: float = Field(2.0, gt=0, le=60)
    # Redis behind Sentinel: every client (job store, pub/sub, dispatcher, Celery's broker)
    # asks these Sentinels (`host:port,host:port`) for the primary of REDIS_SENTINEL_MASTER,
    # and again after a failover. REDIS_URL then gives only the data connections' password
    # and database: redis://:PASSWORD@MASTER_NAME/0.
    redis_sentinels: str = ""
    redis_sentinel_master: str = ""
    redis_sentinel_password: SecretStr = SecretStr("")  # the Sentinels' own (requirepass)
    # A submit is answered only once this many replicas have its record and message (Redis
    # WAIT, up to half of REDIS_TIMEOUT_SECONDS; else 503): an accepted job then survives
    # the loss of the primary. 0: answered once the primary has it.
    redis_min_replica_acks: int = Field(0, ge=0, le=16)

    # Celery. The broker defaults to REDIS_URL; amqp:// (RabbitMQ) works too.
    celery_broker_url: str = ""
    # Results live in the job store; a Celery result backend is optional (reference compat).
    celery_result_backend: str = ""
    # Two queues (tasks/queues.py): each function's policy names one. The short queue keeps
    # the reference's name; the long one (wait_and_return's) has workers of its own, so a
    # long job never delays short ones. CELERY_LONG_QUEUE empty: one queue for every function.
    celery_queue: str = Field("celery", pattern=QUEUE_NAME_PATTERN)
    celery_long_queue: str = Field("celery.long", pattern=rf"^$|{QUEUE_NAME_PATTERN}")
    celery_visibility_timeout: int = Field(3600, ge=10)
    worker_concurrency: int = Field(2, ge=1, le=64)  # pool processes per queue's worker
    # Messages each pool process reserves ahead, per queue. Short jobs: Celery's default of
    # 4, more trivial jobs/s with one pool process than 1 (bench). Long jobs: 1, so a
    # worker busy with them holds no message an idle worker could run (also the one queue's,
    # when CELERY_LONG_QUEUE is empty).
    worker_prefetch_multiplier: int = Field(4, ge=1, le=64)
    worker_long_prefetch_multiplier: int = Field(1, ge=1, le=64)
    job_max_attempts: int = Field(3, ge=1, le=20)
    # Celery task events feed Flower's live task view; each job then costs three event
    # publishes in the worker (about a quarter of its throughput on trivial jobs). Off by
    # default: a running Flower turns them on in every worker it sees (its enable_events
    # option, every few seconds), so they flow only while someone can watch them.
    worker_task_events: bool = False
    # A stopping worker (SIGTERM, Ctrl-C) takes no new job and lets the running ones finish
    # for this long; those still running then go back to the queue and run again on the
    # next worker (worker/jobs/shutdown.py). 0: back to the queue at once.
    worker_shutdown_grace_seconds: float = Field(10.0, ge=0, le=3600)
    # A worker whose heartbeat has been silent this long is lost: every live worker's
    # heartbeat hands its running jobs back to their queue at once (worker/jobs/heartbeat.py,
    # tasks/jobs/worker_lost.lua). Much longer than a beat, so a slow worker is not taken
    # for a lost one. 0: off (CELERY_VISIBILITY_TIMEOUT brings them back, an hour later).
    worker_lost_after_seconds: float = Field(30.0, ge=0, le=86400)

    # More modules of job functions to load besides tasks.jobs.functions (JSON list).
    extra_function_modules: list[str] = Field(default_factory=list)
    # Per-function execution policy overrides (JSON), e.g.
    # {"sum_to_n_job": {"max_age_seconds": 600, "hard_time_limit": 60}}; "queue": short/long.
    function_policies: dict[str, dict[str, float | str]] = Field(default_factory=dict)

    # The job registry.
    job_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)
    # A job's progress reports (tasks/jobs/progress.py) are written at most once per this
    # many milliseconds (and a final one, done == total, at once); the calls in between
    # cost a clock read. 0: every report is written.
    progress_interval_ms: int = Field(100, ge=0, le=60_000)

    # Function bounds.
    sum_max_number: int = Field(50_000_000, ge=1)
    wait_max_seconds: float = Field(300.0, gt=0)

    # Access and admission (see README "Security and reliability").
    # `tenant:key` pairs; when any key is configured (here or with `python -m gateway.keys`)
    # every API call needs one.
    api_keys: str = ""
    # Per-key token bucket over all API calls; 0 turns rate limiting off.
    rate_limit_per_second: float = Field(0.0, ge=0)
    rate_limit_burst: int = Field(100, ge=1)
    # Submits answer 503 while more jobs than this wait in the job's queue (each queue is
    # counted on its own); 0 turns it off.
    max_queue_depth: int = Field(100_000, ge=0)
    # How long an Idempotency-Key is remembered.
    idempotency_ttl_seconds: int = Field(24 * 3600, ge=60)

    # Browser origins allowed to call the API (comma-separated); empty: no CORS.
    cors_allow_origins: str = ""

    # HTTP.
    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(8000, ge=1, le=65535)
    # `make up`: gateway processes behind NGINX, one uvicorn each, on GATEWAY_PORT and the
    # ports after it (docker compose scales the gateway service instead).
    gateway_processes: int = Field(1, ge=1, le=64)
    max_body_bytes: int = Field(64 * 1024, ge=256)

    # Live jobs over REST: Server-Sent Events (GET /producer/api/jobs/{id}/events) and long
    # polls (?wait=) each hold a request open; at most this many at once per gateway process
    # (one more is a 503). An idle event stream gets a comment line this often, so that no
    # proxy takes it for dead. A long poll waits at most LONG_POLL_MAX_SECONDS; NGINX's
    # proxy_read_timeout on /producer/api/ is longer than the highest value allowed here.
    event_streams_max: int = Field(1000, ge=1, le=100_000)
    event_stream_keepalive_seconds: float = Field(15.0, gt=0, le=300)
    long_poll_max_seconds: float = Field(60.0, gt=0, le=300)

    # GraphQL: introspection (GraphiQL's docs need it) and the cost limits of one document.
    graphql_introspection: bool = True
    graphql_max_depth: int = Field(10, ge=1, le=100)
    graphql_max_aliases: int = Field(15, ge=0, le=1000)
    graphql_max_tokens: int = Field(2000, ge=100, le=100_000)
    # Persisted queries: how many documents clients may register by hash (in Redis, for
    # every gateway process; the least recently used go beyond it; 0: none), and the
    # frontend build's operation manifest (Apollo's format): set, only its operations run.
    graphql_persisted_max: int = Field(2000, ge=0, le=100_000)
    graphql_operations_manifest: str = ""

    # The edge (`make up`): NGINX on one port in front of the gateway, Flower and Locust.
    nginx_port: int = Field(8080, ge=1, le=65535)
    locust_port: int = Field(8089, ge=1, le=65535)
    # Where `make up` keeps Redis's data, logs, sockets and generated configs (owner-only);
    # relative to the repository root.
    stack_run_dir: str = Field("run", min_length=1)
    # `user:password` (several separated by commas) for /dashboard/, /load-test/ and
    # /metrics: NGINX checks them, and so do Flower, Locust's web UI and the gateway's
    # /metrics themselves (tasks/dashboard_auth.py). Empty: `make up` makes one up.
    flower_basic_auth: SecretStr = SecretStr("")

    # `make load`: a bounded headless Locust run against a stack it starts.
    load_run_time: str = Field("30s", pattern=r"^[0-9]+[smh]?$")
    load_users: int = Field(4, ge=1, le=1000)
    load_spawn_rate: float = Field(2.0, gt=0, le=1000)
    load_user_classes: str = ""  # space-separated Locust user classes; empty: all that apply

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.cors_allow_origins.split(",") if o.strip()]

    # Webhooks: signing, retries, timeouts and the SSRF guard of the dispatcher
    # (`python -m worker.dispatcher`) and of the URLs the gateway accepts.
    webhook_secret: str = ""  # whsec_...; empty: a fixed development secret (refused in production)
    webhook_secret_previous: str = ""  # while rotating WEBHOOK_SECRET: also sign with this one
    webhook_secret_rotation_grace_seconds: int = Field(24 * 3600, ge=0)
    # Fernet keys, comma-separated: endpoint secrets are stored encrypted with the first;
    # every one decrypts (rotation: put the new key first, re-encrypt, drop the old one).
    # Empty: a public development key (refused in production; `make up` makes its own).
    webhook_encryption_key: SecretStr = SecretStr("")
    webhook_retry_schedule: str = "0,5,30,120,600,1800,3600,7200,14400"
    webhook_retry_after_max_seconds: float = Field(3600.0, ge=0)
    webhook_connect_timeout_seconds: float = Field(5.0, gt=0, le=60)
    webhook_timeout_seconds: float = Field(15.0, gt=0, le=300)
    webhook_allowed_networks: str = ""
    webhook_allowed_ports: str = "80,443,1024-65535"
    webhook_max_in_flight: int = Field(100, ge=1, le=10_000)
    # At most this many attempts in flight per destination, over every dispatcher.
    webhook_max_in_flight_per_destination: int = Field(10, ge=1, le=10_000)
    # Circuit breaker per destination: this many consecutive failures (timeouts, connection
    # errors, 5xx) open it (0: no breaker); its messages then wait, uncharged, for the
    # cool-down, which doubles after each failed probe up to the longest cool-down.
    webhook_breaker_failures: int = Field(5, ge=0, le=1000)
    webhook_breaker_cooldown_seconds: float = Field(30.0, gt=0, le=3600)
    webhook_breaker_max_cooldown_seconds: float = Field(3600.0, gt=0, le=7 * 24 * 3600)
    # A registered endpoint whose breaker has stayed open this long is disabled, as a 410
    # does (0: never). Like Svix: 5 days.
    webhook_disable_after_seconds: float = Field(5 * 24 * 3600.0, ge=0, le=90 * 24 * 3600)
    # Deliveries per second per tenant, over every dispatcher (0: no limit).
    webhook_tenant_max_per_second: int = Field(1000, ge=0, le=1_000_000)
    # At most one job.progress message per job per this many seconds (and one for the
    # final report), to each endpoint subscribed to job.progress (0: one per written report).
    webhook_progress_interval_seconds: float = Field(1.0, ge=0, le=3600)

    @property
    def queues(self) -> dict[str, str]:
        """Each queue role (what policies and `python -m worker -Q` name) to its queue."""
        return queue_names(self.celery_queue, self.celery_long_queue)

    def prefetch_multiplier(self, queue: str) -> int:
        """The prefetch of the workers of `queue` (a queue's name)."""
        return (self.worker_long_prefetch_multiplier if queue == self.queues[LONG]
                else self.worker_prefetch_multiplier)

    @model_validator(mode="after")
    def _queue_names_unambiguous(self) -> Settings:
        check_names(self.celery_queue, self.celery_long_queue)
        return self

    @field_validator("function_policies")
    @classmethod
    def _policy_values(cls, value: dict[str, dict[str, float | str]]
                       ) -> dict[str, dict[str, float | str]]:
        for function, fields in value.items():
            check_policy_values(function, fields)
        return value

    @property
    def longest_job_seconds(self) -> float:
        """The default hard time limit of a job function."""
        return self.wait_max_seconds + JOB_TIME_MARGIN_SECONDS

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def effective_broker_url(self) -> str:
        if self.celery_broker_url or not self.sentinels:
            return self.celery_broker_url or self.effective_redis_url
        return sentinel_broker_url(self.sentinels, self.redis_url)

    @property
    def broker_is_redis(self) -> bool:
        return self.effective_broker_url.startswith(
            ("redis://", "rediss://", "unix://", "sentinel://"))

    @property
    def broker_is_job_store(self) -> bool:
        """The broker's queues live in the job store's Redis (so one call writes both)."""
        return self.broker_is_redis and (
            not self.celery_broker_url or self.celery_broker_url == self.effective_redis_url)

    @property
    def sentinels(self) -> tuple[tuple[str, int], ...]:
        """The Sentinels' addresses; empty: one Redis at REDIS_URL."""
        return parse_sentinels(self.redis_sentinels)

    @property
    def uses_local_redis(self) -> bool:
        """`make up` starts its own redis-server (no REDIS_URL, no Sentinels)."""
        return not (self.redis_url or self.redis_sentinels)

    @property
    def replica_ack_timeout_ms(self) -> int:
        """How long a submit waits for REDIS_MIN_REPLICA_ACKS (Redis WAIT): half the Redis
        timeout, so the answer, 503 included, comes within it."""
        return max(1, int(self.redis_timeout_seconds * 500))

    @model_validator(mode="after")
    def _sentinel_set_complete(self) -> Settings:
        sentinels = parse_sentinels(self.redis_sentinels)  # ValueError names a bad entry
        master = self.redis_sentinel_master
        if self.celery_result_backend.startswith("sentinel://") and not master:
            raise ValueError("a sentinel:// CELERY_RESULT_BACKEND needs REDIS_SENTINELS and "
                             "REDIS_SENTINEL_MASTER (the name of its primary)")
        if not sentinels:
            for name, value in (("REDIS_SENTINEL_MASTER", master),
                                ("REDIS_SENTINEL_PASSWORD",
                                 self.redis_sentinel_password.get_secret_value())):
                if value:
                    raise ValueError(f"{name} is set but REDIS_SENTINELS is empty: list the "
                                     "Sentinels as host:port,host:port")
            return self
        if not master:
            raise ValueError("REDIS_SENTINELS needs REDIS_SENTINEL_MASTER: the name the "
                             "Sentinels monitor the primary under (e.g. mymaster)")
        check_master_name(master)
        check_data_url(self.redis_url, master)
        if self.celery_broker_url.startswith(
                ("redis://", "rediss://", "unix://", "sentinel://")):
            raise ValueError(
                "with REDIS_SENTINELS, leave CELERY_BROKER_URL empty: the broker is the job "
                "store's primary, found through the same Sentinels (a submit writes the job "
                "and its message in one call); only another kind of broker (amqp://) may be "
                "named")
        return self

    @field_validator("flower_basic_auth")
    @classmethod
    def _user_password_pairs(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        for pair in filter(None, raw.split(",")):
            user, sep, password = pair.partition(":")
            if not (sep and user and password) or not (user + password).isprintable() or (
                    any(c.isspace() for c in user)):
                # Never echo the value: it holds passwords.
                raise ValueError("FLOWER_BASIC_AUTH must be user:password[,user:password...]")
        return value

    @model_validator(mode="after")
    def _production_is_locked(self) -> Settings:
        if self.environment != "production":
            return self
        keys = [pair.partition(":")[2].strip() for pair in self.api_keys.split(",") if pair]
        if not keys:
            raise ValueError("ENVIRONMENT=production needs API_KEYS")
        if any(k.lower().startswith(PLACEHOLDER_PREFIXES) for k in keys):
            raise ValueError("API_KEYS still holds a placeholder key: generate real ones")
        if not self.webhook_secret:
            raise ValueError(
                "WEBHOOK_SECRET must be set in production (the development default is public); "
                f"generate one with: {KEYGEN_COMMAND}")
        if not self.webhook_encryption_key.get_secret_value().strip():
            raise ValueError(
                "WEBHOOK_ENCRYPTION_KEY must be set in production (it encrypts the endpoints' "
                "signing secrets in Redis; the development key is public); generate one with: "
                f"{ENCRYPTION_KEYGEN_COMMAND}")
        return self

    @property
    def webhook_retry_delays(self) -> tuple[float, ...]:
        return parse_retry_schedule(self.webhook_retry_schedule)

    @property
    def webhook_signing_secrets(self) -> tuple[str, ...]:
        """The secrets per-job callbacks are signed with: the current one first."""
        current = self.webhook_secret or DEVELOPMENT_WEBHOOK_SECRET
        return (current, self.webhook_secret_previous) if self.webhook_secret_previous \
            else (current,)

    @property
    def webhook_encryption_keys(self) -> tuple[str, ...]:
        """The keys of the endpoint secrets at rest: the first encrypts, all decrypt."""
        return parse_encryption_keys(self.webhook_encryption_key.get_secret_value()) or (
            DEVELOPMENT_ENCRYPTION_KEY,)

    @property
    def webhook_encryption_is_development(self) -> bool:
        return not self.webhook_encryption_key.get_secret_value().strip()

    @field_validator("webhook_encryption_key")
    @classmethod
    def _encryption_key_format(cls, value: SecretStr) -> SecretStr:
        parse_encryption_keys(value.get_secret_value())  # raises ValueError, never echoes it
        return value

    @field_validator("webhook_secret", "webhook_secret_previous")
    @classmethod
    def _secret_format(cls, value: str) -> str:
        if value:
            check_webhook_secret(value)
        return value

    @field_validator(*LIST_SETTINGS)
    @classmethod
    def _list_format(cls, value: str, info: ValidationInfo) -> str:
        LIST_SETTINGS[str(info.field_name)](value)  # raises ValueError when malformed
        return value

    @property
    def gateway_ports(self) -> range:
        """The ports of `make up`'s gateway processes, one each."""
        return range(self.gateway_port, self.gateway_port + self.gateway_processes)

    @model_validator(mode="after")
    def _gateway_ports_free_of_others(self) -> Settings:
        ports = self.gateway_ports
        if ports.stop - 1 > 65535:
            raise ValueError(
                f"GATEWAY_PORT + GATEWAY_PROCESSES - 1 must be at most 65535: the processes "
                f"listen on GATEWAY_PORT and the ports after it (got {ports.start}-"
                f"{ports.stop - 1})")
        others = {"NGINX_PORT": self.nginx_port, "LOCUST_PORT": self.locust_port}
        if self.uses_local_redis:
            others["REDIS_PORT"] = self.redis_port
        taken = [f"{name} {port}" for name, port in others.items()
                 if port in ports and len(ports) > 1]
        if taken:
            raise ValueError(
                f"GATEWAY_PROCESSES={len(ports)} listen on ports {ports.start}-"
                f"{ports.stop - 1}, which holds {', '.join(taken)}: move GATEWAY_PORT or "
                "that port")
        return self

    @model_validator(mode="after")
    def _destination_cap_within_pool(self) -> Settings:
        if self.webhook_max_in_flight_per_destination > self.webhook_max_in_flight:
            raise ValueError(
                "WEBHOOK_MAX_IN_FLIGHT_PER_DESTINATION must be between 1 and "
                f"WEBHOOK_MAX_IN_FLIGHT ({self.webhook_max_in_flight}): one destination "
                f"cannot hold more slots than a dispatcher has (got "
                f"{self.webhook_max_in_flight_per_destination})")
        return self

    @model_validator(mode="after")
    def _cooldowns_in_order(self) -> Settings:
        if self.webhook_breaker_max_cooldown_seconds < self.webhook_breaker_cooldown_seconds:
            raise ValueError(
                "WEBHOOK_BREAKER_MAX_COOLDOWN_SECONDS must be at least "
                f"WEBHOOK_BREAKER_COOLDOWN_SECONDS ({self.webhook_breaker_cooldown_seconds}): "
                "the cool-down only grows (got "
                f"{self.webhook_breaker_max_cooldown_seconds})")
        return self

    @property
    def webhook_breaker_policy(self) -> BreakerPolicy:
        return BreakerPolicy(self.webhook_breaker_failures,
                             self.webhook_breaker_cooldown_seconds,
                             self.webhook_breaker_max_cooldown_seconds,
                             self.webhook_disable_after_seconds)

    @model_validator(mode="after")
    def _lost_after_outlasts_a_slow_beat(self) -> Settings:
        # A beat may hang for a whole Redis timeout: a worker is lost only well after that.
        # (A shorter CELERY_VISIBILITY_TIMEOUT simply comes first: the job has moved on.)
        lost_after = self.worker_lost_after_seconds
        shortest = LOST_AFTER_REDIS_TIMEOUTS * self.redis_timeout_seconds
        if 0 < lost_after < shortest:
            raise ValueError(
                f"WORKER_LOST_AFTER_SECONDS must be 0 (off) or at least {shortest:g} "
                f"({LOST_AFTER_REDIS_TIMEOUTS} x REDIS_TIMEOUT_SECONDS): a heartbeat may wait "
                f"that long for Redis (got {lost_after:g})")
        return self

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
