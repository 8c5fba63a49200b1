"""The webhook service's input checks (gateway/services/webhooks.py)."""

from __future__ import annotations

import pytest

from gateway.services.errors import InvalidInput
from gateway.services.webhooks import check_events


def test_check_events() -> None:
    assert check_events(None) is None
    assert check_events(["job.failed", "job.succeeded", "job.failed"]) == (
        "job.succeeded", "job.failed")
    for bad in ([], ["job.done"], "job.failed", [1]):
        with pytest.raises(InvalidInput, match="events"):
            check_events(bad)
