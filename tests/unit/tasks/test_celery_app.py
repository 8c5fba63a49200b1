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
