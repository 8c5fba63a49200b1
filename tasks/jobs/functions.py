"""The job functions. Adding one is adding one decorated function here."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from tasks.jobs.catalog import job_function, progress
from tasks.queues import LONG

# Numbers sum_to_n_job adds between two progress calls (tens of milliseconds of the loop):
# the throttle, not this, decides how often a report is written.
SUM_CHUNK = 1_000_000
# How long wait_and_return sleeps between two progress calls.
WAIT_STEP_SECONDS = 0.25


class WaitInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(
        20.0, ge=0, strict=True, allow_inf_nan=False,
        description="How long to sleep, in seconds (at most WAIT_MAX_SECONDS).",
    )


class SumInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: int = Field(
        ..., ge=0, strict=True,
        description="Add 1 + 2 + ... + number (at most SUM_MAX_NUMBER).",
    )


@job_function(input_model=WaitInput, description="Sleep `seconds`, then return 'Hello World!'.",
              limits=lambda settings: {"seconds": settings.wait_max_seconds}, queue=LONG)
def wait_and_return(seconds: float = 20.0) -> str:
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        time.sleep(min(WAIT_STEP_SECONDS, seconds - elapsed))
        progress(min(time.monotonic() - started, seconds), seconds)
    return "Hello World!"


@job_function(
    input_model=SumInput,
    limits=lambda settings: {"number": settings.sum_max_number},
    description="Add 1 + 2 + ... + number in a plain loop (a CPU-bound demo workload).",
)
def sum_to_n_job(number: int) -> int:
    total = 0
    for start in range(1, number + 1, SUM_CHUNK):
        end = min(start + SUM_CHUNK, number + 1)
        for i in range(start, end):  # deliberately a loop: the CPU-bound demo, not n(n+1)/2
            total += i
        progress(end - 1, number)
    return total


# The names the reference's REST routes and GraphQL's named submit mutations submit under.
WAIT = wait_and_return.__name__
SUM = sum_to_n_job.__name__
