"""The shared metrics (tasks/metrics.py) counted in a real Redis and exposed."""

from __future__ import annotations

from tasks import metrics
from tests.support.helpers import prometheus_text
from tests.support.servers import RedisServer


def test_shared_metrics_round_trip_through_real_redis(redis_server: RedisServer) -> None:
    client = redis_server.client()
    client.delete(*[m.key for m in metrics.SHARED_METRICS])
    metrics.record(client,
                   metrics.JOBS_FINISHED.inc("f|x", "SUCCEEDED"),
                   metrics.JOBS_FINISHED.inc("f|x", "SUCCEEDED"),
                   metrics.JOB_RUN_SECONDS.observe(0.3, "f|x"),
                   metrics.JOB_RUN_SECONDS.observe(7, "f|x"),
                   metrics.JOB_RUN_SECONDS.observe(10_000, "f|x"))
    text = prometheus_text(metrics.families([client.hgetall(m.key)
                                             for m in metrics.SHARED_METRICS]))
    assert 'gateway_jobs_finished_total{function="f_x",status="SUCCEEDED"} 2.0' in text
    assert 'gateway_job_run_seconds_bucket{function="f_x",le="0.25"} 0.0' in text
    assert 'gateway_job_run_seconds_bucket{function="f_x",le="0.5"} 1.0' in text
    assert 'gateway_job_run_seconds_bucket{function="f_x",le="10.0"} 2.0' in text
    assert 'gateway_job_run_seconds_bucket{function="f_x",le="+Inf"} 3.0' in text
    assert 'gateway_job_run_seconds_count{function="f_x"} 3.0' in text
    assert 'gateway_job_run_seconds_sum{function="f_x"} 10007.3' in text
