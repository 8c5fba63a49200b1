"""The Celery app built from the settings (tasks/celery_app.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tasks.celery_app import create_celery
from tasks.settings import Settings


def test_prefetch_multiplier_per_queue() -> None:
    """Each queue's own (python -m worker passes it); Celery's default is the lowest, for a
    worker started otherwise that may consume the long queue too."""
    settings = Settings(_env_file=None)
    assert (settings.prefetch_multiplier("celery"), settings.prefetch_multiplier("celery.long"),
            create_celery(settings).conf.worker_prefetch_multiplier) == (4, 1, 1)
    one_queue = Settings(_env_file=None, celery_long_queue="", worker_prefetch_multiplier=8,
                         worker_long_prefetch_multiplier=2)
    assert one_queue.prefetch_multiplier("celery") == 2  # it holds the long jobs too
    app = create_celery(Settings(_env_file=None, worker_prefetch_multiplier=2,
                                 worker_long_prefetch_multiplier=3))
    assert app.conf.worker_prefetch_multiplier == 2
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
