"""The job functions. Adding one is adding one decorated function here."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from tasks.jobs.catalog import job_function


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
              limits=lambda settings: {"seconds": settings.wait_max_seconds})
def wait_and_return(seconds: float = 20.0) -> str:
    time.sleep(seconds)
    return "Hello World!"


@job_function(
    input_model=SumInput,
    limits=lambda settings: {"number": settings.sum_max_number},
    description="Add 1 + 2 + ... + number in a plain loop (a CPU-bound demo workload).",
)
def sum_to_n_job(number: int) -> int:
    total = 0
    for i in range(1, number + 1):  # deliberately a loop: the CPU-bound demo, not n(n+1)/2
        total += i
    return total


# The names the reference's REST routes and GraphQL's named submit mutations submit under.
WAIT = wait_and_return.__name__
SUM = sum_to_n_job.__name__
