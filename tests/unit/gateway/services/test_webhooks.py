"""The webhook service's input checks (gateway/services/webhooks.py)."""

from __future__ import annotations

import pytest

from gateway.services.errors import InvalidInput
from gateway.services.webhooks import check_events


def test_check_events() -> None:
    assert check_events(None) is None
    assert check_events(["job.failed", "job.succeeded", "job.failed"]) == (
        "job.succeeded", "job.failed")
    # Operational events only by name, after the job events.
    assert check_events(["message.attempt.exhausted", "job.failed", "endpoint.disabled"]) == (
        "job.failed", "endpoint.disabled", "message.attempt.exhausted")
    for bad in ([], ["job.done"], "job.failed", [1], ["endpoint.*"]):
        with pytest.raises(InvalidInput, match="events"):
            check_events(bad)
