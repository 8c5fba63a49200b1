"""Job functions only the tests load (EXTRA_FUNCTION_MODULES): to drive the failure paths
that the shipped functions never take, and to see from outside how far a run got."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import redis
from celery import current_task
from pydantic import BaseModel, ConfigDict, Field

from tasks.jobs.catalog import TransientJobError, job_function, progress


class FlakyInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    counter_file: str = Field(..., max_length=500)
    failures: int = Field(..., ge=0, le=10)


@job_function(input_model=FlakyInput, description="Fail transiently `failures` times.",
              max_retries=2, retry_backoff=0.2)
def flaky(counter_file: str, failures: int) -> int:
    path = Path(counter_file)
    runs = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(runs))
    if runs <= failures:
        raise TransientJobError(f"transient failure {runs} of {failures}")
    return runs


class BoomInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field("boom", max_length=200)


@job_function(input_model=BoomInput, description="Always fail with ValueError.")
def boom(message: str) -> None:
    raise ValueError(message)


class MarkedInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    marker_dir: str = Field(..., max_length=500)
    seconds: float = Field(..., ge=0, le=60)


@job_function(input_model=MarkedInput, description="Write `start` (with the pid), sleep, "
              "write `end`: shows whether a run was stopped before its end, and where.")
def marked(marker_dir: str, seconds: float) -> int:
    directory = Path(marker_dir)
    (directory / "start").write_text(str(os.getpid()))
    time.sleep(seconds)
    (directory / "end").write_text(str(os.getpid()))
    return os.getpid()


class BadProgressInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    done: float = Field(..., allow_inf_nan=False)
    total: float = Field(..., allow_inf_nan=False)


@job_function(input_model=BadProgressInput, description="Report progress(done, total) once, "
              "as given: a report progress() refuses fails the job with its error.")
def reports(done: float, total: float) -> str:
    progress(done, total)
    return "reported"


class LoggedWaitInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log_key: str = Field(..., max_length=200)
    seconds: float = Field(..., ge=0, le=60)
    first_seconds: float | None = Field(None, ge=0, le=60)


@job_function(input_model=LoggedWaitInput, description="Append `start`, sleep, append `end` "
              "to the Redis list `log_key`, each with the job id, the worker and the time: "
              "shows where and when every run of a job ran. The job's first run sleeps "
              "`first_seconds` instead, if given (a run its worker's death will cut short).")
def logged_wait(log_key: str, seconds: float, first_seconds: float | None) -> float:
    request = current_task.request
    client = redis.Redis.from_url(os.environ["REDIS_URL"])

    def log(event: str) -> None:
        client.rpush(log_key, json.dumps({"event": event, "job": request.id,
                                          "worker": request.hostname, "at": time.time()}))

    log("start")
    starts = sum(json.loads(raw)["job"] == request.id for raw in client.lrange(log_key, 0, -1))
    sleep = first_seconds if first_seconds is not None and starts == 1 else seconds
    time.sleep(sleep)
    log("end")
    client.close()
    return sleep
