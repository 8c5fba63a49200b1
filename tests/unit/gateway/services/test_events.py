"""The order of a job's states that lets a subscription drop stale events
(gateway/services/events.py)."""

from __future__ import annotations

from gateway.services.events import progress
from tasks.jobs.record import JobRecord, JobStatus


def _record(status: JobStatus, attempts: int) -> JobRecord:
    return JobRecord(id="j", function="f", status=status, input={}, result=None, error=None,
                     attempts=attempts, created_at=0.0, started_at=None, finished_at=None,
                     callback_url=None, tenant="public")


def test_progress_orders_a_jobs_life_including_retries() -> None:
    life = [_record(JobStatus.QUEUED, 0), _record(JobStatus.STARTED, 1),
            _record(JobStatus.RETRYING, 1), _record(JobStatus.STARTED, 2),
            _record(JobStatus.SUCCEEDED, 2)]
    keys = [progress(r) for r in life]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert progress(_record(JobStatus.CANCELLED, 0)) > progress(_record(JobStatus.QUEUED, 0))
