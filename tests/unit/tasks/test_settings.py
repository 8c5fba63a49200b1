"""Settings (tasks/settings.py): the checks a bad configuration fails at start-up, the
URLs derived from it, the Flower credentials and the webhook settings."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr, ValidationError

from tasks.settings import Settings
from tasks.webhooks.config import (
    DEVELOPMENT_ENCRYPTION_KEY,
    DEVELOPMENT_WEBHOOK_SECRET,
    new_webhook_secret,
)


def test_settings_refuse_visibility_below_longest_job() -> None:
    with pytest.raises(ValidationError, match="CELERY_VISIBILITY_TIMEOUT"):
        Settings(wait_max_seconds=100, celery_visibility_timeout=50)


def test_worker_lost_after_defaults_and_bounds() -> None:
    assert Settings(_env_file=None).worker_lost_after_seconds == 30
    assert settings(worker_lost_after_seconds="0").worker_lost_after_seconds == 0  # off
    assert settings(worker_lost_after_seconds="4").worker_lost_after_seconds == 4
    assert settings(worker_lost_after_seconds="1",
                    redis_timeout_seconds="0.5").worker_lost_after_seconds == 1


@pytest.mark.parametrize(("env", "message"), [
    ({"worker_lost_after_seconds": "3"}, "WORKER_LOST_AFTER_SECONDS must be 0 \\(off\\) or at "
     "least 4 \\(2 x REDIS_TIMEOUT_SECONDS\\).*got 3"),
    ({"worker_lost_after_seconds": "20", "redis_timeout_seconds": "15"}, "at least 30"),
    ({"worker_lost_after_seconds": "-1"}, "greater than or equal to 0"),
    ({"worker_lost_after_seconds": "86401"}, "less than or equal to 86400"),
    ({"worker_lost_after_seconds": "soon"}, "valid number"),
])
def test_bad_worker_lost_after_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**env)


def test_settings_urls() -> None:
    s = Settings(redis_port=7000, redis_url="")
    assert s.effective_redis_url == "redis://127.0.0.1:7000/0"
    assert s.effective_broker_url == s.effective_redis_url and s.broker_is_redis
    amqp = Settings(celery_broker_url="amqp://guest:guest@localhost//")
    assert not amqp.broker_is_redis


def test_production_needs_real_api_keys() -> None:
    with pytest.raises(ValidationError, match="needs API_KEYS"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production", api_keys="ops:changeme-0123456789abcdef")


@pytest.mark.parametrize("value", ["admin", "admin:", ":pw", "a b:pw", "a:pw\nb:pw2",
                                   "ok:pw,bad"])
def test_flower_basic_auth_must_be_user_password_pairs(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None, flower_basic_auth=value)
    assert "pw" not in str(info.value).replace("password", "")  # never echoes the value


def test_flower_basic_auth_accepts_pairs_and_hides_them() -> None:
    settings = Settings(_env_file=None, flower_basic_auth="a:p1,b:p:2")
    assert settings.flower_basic_auth.get_secret_value() == "a:p1,b:p:2"
    assert "p1" not in repr(settings) and "p1" not in str(settings.model_dump())


def test_production_refuses_a_missing_secret() -> None:
    keys = "ops:a-real-key-0123456789abcdef"
    with pytest.raises(ValidationError, match="WEBHOOK_SECRET must be set in production"):
        Settings(environment="production", api_keys=keys)
    secret = new_webhook_secret()
    assert Settings(environment="production", api_keys=keys, webhook_secret=secret,
                    webhook_encryption_key=SecretStr(Fernet.generate_key().decode()),
                    ).webhook_signing_secrets == (secret,)
    assert Settings(environment="development").webhook_signing_secrets == (
        DEVELOPMENT_WEBHOOK_SECRET,)


@pytest.mark.parametrize("secret", ["change-me", "whsec_", "whsec_not base64!",
                                    "whsec_" + base64.b64encode(b"short").decode()])
def test_malformed_secrets_refused(secret: str) -> None:
    with pytest.raises(ValidationError, match="webhook secret"):
        Settings(webhook_secret=secret)


def test_previous_secret_signs_too() -> None:
    new, old = new_webhook_secret(), new_webhook_secret()
    assert Settings(webhook_secret=new, webhook_secret_previous=old).webhook_signing_secrets \
        == (new, old)


@pytest.mark.parametrize(("field", "value"), [
    ("webhook_retry_schedule", "0,5,x"), ("webhook_retry_schedule", ""),
    ("webhook_retry_schedule", "0,-1"), ("webhook_retry_schedule", "0,inf"),
    ("webhook_allowed_networks", "10.0.0.0/99"), ("webhook_allowed_ports", "80-70"),
])
def test_webhook_settings_validated(field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        Settings(**{field: value})


def test_fractional_schedule() -> None:
    assert Settings(webhook_retry_schedule="0,0.2,0.5").webhook_retry_delays == (0, 0.2, 0.5)


def settings(**env: str) -> Settings:
    return Settings(_env_file=None, **env)


def test_destination_cap_default_is_a_tenth_of_the_default_pool() -> None:
    s = Settings(_env_file=None)
    assert (s.webhook_max_in_flight, s.webhook_max_in_flight_per_destination) == (100, 10)
    assert settings(webhook_max_in_flight="10",
                    webhook_max_in_flight_per_destination="10").webhook_max_in_flight == 10


@pytest.mark.parametrize(("pool", "cap", "message"), [
    ("10", "11", "WEBHOOK_MAX_IN_FLIGHT_PER_DESTINATION must be between 1 and "
                 "WEBHOOK_MAX_IN_FLIGHT (10)"),
    ("5", "10", "WEBHOOK_MAX_IN_FLIGHT (5)"),  # a smaller pool needs a smaller cap
    ("100", "0", "greater than or equal to 1"),
    ("100", "ten", "valid integer"),
])
def test_bad_destination_caps_are_refused(pool: str, cap: str, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        settings(webhook_max_in_flight=pool, webhook_max_in_flight_per_destination=cap)
    text = str(refused.value)
    assert message in text and "webhook_max_in_flight" in text.lower()


def test_production_refuses_a_missing_encryption_key() -> None:
    """Endpoint secrets are encrypted at rest: production does not start without a key of
    its own (the development key is public), and the message says how to make one."""
    ready = {"environment": "production", "api_keys": "ops:a-real-key-0123456789abcdef",
             "webhook_secret": new_webhook_secret()}
    for missing in ("", "  "):
        with pytest.raises(ValidationError, match=r"WEBHOOK_ENCRYPTION_KEY must be set in "
                           r"production.*python -m gateway\.webhook_secrets generate-key"):
            Settings(_env_file=None, webhook_encryption_key=SecretStr(missing), **ready)
    key = Fernet.generate_key().decode()
    assert Settings(_env_file=None, webhook_encryption_key=SecretStr(key),
                    **ready).webhook_encryption_keys == (key,)
    development = Settings(_env_file=None, environment="development")
    assert development.webhook_encryption_keys == (DEVELOPMENT_ENCRYPTION_KEY,)
    assert development.webhook_encryption_is_development


def test_encryption_keys_are_a_list_the_first_encrypts() -> None:
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings = Settings(_env_file=None, webhook_encryption_key=SecretStr(f" {new} , {old} "))
    assert settings.webhook_encryption_keys == (new, old)
    assert not settings.webhook_encryption_is_development
    assert new not in repr(settings) and new not in str(settings.model_dump())


@pytest.mark.parametrize("value", [
    "not-a-key", base64.urlsafe_b64encode(b"16 bytes only!!!").decode(),
    Fernet.generate_key().decode()[:-2], "{good},{good}x",
])
def test_malformed_encryption_keys_refused_never_echoed(value: str) -> None:
    good = Fernet.generate_key().decode()
    value = value.replace("{good}", good)
    with pytest.raises(ValidationError, match="is not a Fernet key") as info:
        Settings(_env_file=None, webhook_encryption_key=SecretStr(value))
    assert value not in str(info.value) and good not in str(info.value)


def test_flow_control_defaults() -> None:
    s = Settings(_env_file=None)
    assert s.webhook_breaker_policy.args() == ["5", "30.0", "3600.0", "432000.0"]
    assert s.webhook_tenant_max_per_second == 1000
    off = settings(webhook_breaker_failures="0", webhook_disable_after_seconds="0",
                   webhook_tenant_max_per_second="0")
    assert (off.webhook_breaker_policy.failures, off.webhook_breaker_policy.disable_after,
            off.webhook_tenant_max_per_second) == (0, 0, 0)


@pytest.mark.parametrize(("env", "message"), [
    ({"webhook_breaker_failures": "-1"}, "greater than or equal to 0"),
    ({"webhook_breaker_failures": "1001"}, "less than or equal to 1000"),
    ({"webhook_breaker_cooldown_seconds": "0"}, "greater than 0"),
    ({"webhook_breaker_cooldown_seconds": "3601"}, "less than or equal to 3600"),
    ({"webhook_breaker_cooldown_seconds": "60", "webhook_breaker_max_cooldown_seconds": "30"},
     "WEBHOOK_BREAKER_MAX_COOLDOWN_SECONDS must be at least WEBHOOK_BREAKER_COOLDOWN_SECONDS"),
    ({"webhook_breaker_max_cooldown_seconds": "604801"}, "less than or equal to 604800"),
    ({"webhook_disable_after_seconds": "-5"}, "greater than or equal to 0"),
    ({"webhook_disable_after_seconds": "7776001"}, "less than or equal to 7776000"),
    ({"webhook_tenant_max_per_second": "-1"}, "greater than or equal to 0"),
    ({"webhook_tenant_max_per_second": "2.5"}, "valid integer"),
    ({"webhook_tenant_max_per_second": "1000001"}, "less than or equal to 1000000"),
])
def test_bad_flow_control_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**env)


def test_gateway_processes_take_consecutive_ports() -> None:
    settings = Settings(_env_file=None, gateway_port=9000, gateway_processes=3)
    assert list(settings.gateway_ports) == [9000, 9001, 9002]
    assert list(Settings(_env_file=None).gateway_ports) == [8000]  # the default: one


@pytest.mark.parametrize(("env", "message"), [
    ({"gateway_processes": "0"}, "greater than or equal to 1"),
    ({"gateway_processes": "65"}, "less than or equal to 64"),
    ({"gateway_processes": "two"}, "valid integer"),
    ({"gateway_processes": "2.5"}, "valid integer"),
    ({"gateway_processes": "4", "gateway_port": "65534"},
     "GATEWAY_PORT \\+ GATEWAY_PROCESSES - 1 must be at most 65535"),
    ({"gateway_processes": "3", "gateway_port": "8079"},
     "ports 8079-8081, which holds NGINX_PORT 8080: move GATEWAY_PORT"),
    ({"gateway_processes": "3", "gateway_port": "6378"}, "holds REDIS_PORT 6380"),
])
def test_bad_gateway_processes_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**env)


def test_an_external_redis_frees_redis_port_for_gateways() -> None:
    settings = Settings(_env_file=None, gateway_processes=3, gateway_port=6378,
                        redis_url="redis://elsewhere:6379/0")
    assert 6380 in settings.gateway_ports


SENTINEL = {"redis_sentinels": "10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379",
            "redis_sentinel_master": "mymaster"}


def test_sentinel_settings() -> None:
    s = Settings(_env_file=None, **SENTINEL, redis_url="redis://:pw@mymaster/2",
                 redis_min_replica_acks=1, redis_timeout_seconds=3)
    assert s.sentinels[0] == ("10.0.0.1", 26379) and len(s.sentinels) == 3
    assert s.effective_broker_url == ";".join(
        f"sentinel://:pw@10.0.0.{n}:26379/2" for n in (1, 2, 3))
    assert s.broker_is_redis and s.broker_is_job_store and not s.uses_local_redis
    assert s.replica_ack_timeout_ms == 1500  # half the Redis timeout: the 503 comes within it
    amqp = Settings(_env_file=None, **SENTINEL, celery_broker_url="amqp://guest@rabbit//")
    assert not amqp.broker_is_redis and not amqp.broker_is_job_store
    assert Settings(_env_file=None).uses_local_redis
    assert Settings(_env_file=None).redis_min_replica_acks == 0


@pytest.mark.parametrize(("values", "message"), [
    ({"redis_sentinels": "10.0.0.1"}, "REDIS_SENTINELS must be host:port"),
    ({"redis_sentinels": "10.0.0.1:26379"}, "REDIS_SENTINELS needs REDIS_SENTINEL_MASTER"),
    ({"redis_sentinel_master": "mymaster"}, "REDIS_SENTINEL_MASTER is set but REDIS_SENT"),
    ({"redis_sentinel_password": "pw"}, "REDIS_SENTINEL_PASSWORD is set but REDIS_SENT"),
    ({**SENTINEL, "redis_sentinel_master": "my master"}, "REDIS_SENTINEL_MASTER must be"),
    ({**SENTINEL, "redis_url": "redis://:pw@10.0.0.9:6379/0"}, "gives only the password"),
    ({**SENTINEL, "celery_broker_url": "redis://10.0.0.9:6379/0"}, "leave CELERY_BROKER_URL"),
    ({**SENTINEL, "celery_broker_url": "sentinel://10.0.0.9:26379"}, "leave CELERY_BROKER"),
    ({"celery_result_backend": "sentinel://10.0.0.1:26379/1"}, "needs REDIS_SENTINELS"),
    ({"redis_min_replica_acks": -1}, "greater than or equal to 0"),
    ({"redis_min_replica_acks": 17}, "less than or equal to 16"),
])
def test_sentinel_settings_refused_with_a_clear_message(values: dict[str, object],
                                                         message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        Settings(_env_file=None, **values)
    assert ":pw@" not in str(info.value)  # a password in REDIS_URL is never echoed
