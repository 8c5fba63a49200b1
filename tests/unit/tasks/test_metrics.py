"""The shared metrics (tasks/metrics.py)."""

from __future__ import annotations

import pytest

from tasks import metrics


def test_metric_label_count_is_checked() -> None:
    with pytest.raises(ValueError):
        metrics.JOBS_FINISHED.inc("only-one")
