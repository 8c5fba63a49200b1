"""The Celery app built from the settings (tasks/celery_app.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tasks.celery_app import create_celery
from tasks.settings import Settings


def test_prefetch_multiplier_setting_reaches_celery() -> None:
    assert create_celery(Settings(_env_file=None)).conf.worker_prefetch_multiplier == 1
    app = create_celery(Settings(_env_file=None, worker_prefetch_multiplier=4))
    assert app.conf.worker_prefetch_multiplier == 4
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        Settings(_env_file=None, worker_prefetch_multiplier=0)


def test_sentinel_broker_and_result_backend() -> None:
    """Behind Sentinel the broker is kombu's sentinel transport for the same primary, named
    in its transport options, with the Sentinels' password; so is a sentinel:// backend."""
    settings = Settings(_env_file=None, redis_sentinels="10.0.0.1:26379,10.0.0.2:26380",
                        redis_sentinel_master="mymaster", redis_sentinel_password="s3",
                        redis_url="redis://:data@mymaster/2",
                        celery_result_backend="sentinel://:data@10.0.0.1:26379/3")
    conf = create_celery(settings).conf
    assert conf.broker_url.startswith("sentinel://")
    for options in (conf.broker_transport_options, conf.result_backend_transport_options):
        assert options["master_name"] == "mymaster"
        assert options["sentinel_kwargs"]["password"] == "s3"
    plain = create_celery(Settings(_env_file=None)).conf
    assert "master_name" not in plain.broker_transport_options
    assert plain.result_backend_transport_options == {}
