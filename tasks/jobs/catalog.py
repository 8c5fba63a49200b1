"""The function catalog: the single list of job functions and the input each one takes.

A job function is one decorated Python function:

    @job_function(input_model=SumInput, description="...")
    def sum_to_n_job(number: int) -> int: ...

The decorator registers a Celery task under the function's name and adds the function to
the catalog, which REST and GraphQL validate submissions against.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from celery.exceptions import Ignore
from pydantic import BaseModel

from tasks.celery_app import celery_app
from tasks.settings import get_settings

F = TypeVar("F", bound=Callable[..., Any])

# Set on the Celery request by the worker's task_prerun hook when the job must not run
# (cancelled before it started, record gone, or out of attempts).
SKIP_FLAG = "gateway_skip"


class TransientJobError(Exception):
    """Raise from a job function for a failure worth retrying (a flaky dependency, a
    timeout): the job goes RETRYING and runs again after a backoff, up to its policy's
    max_retries. Any other exception fails the job at once."""


@dataclass(frozen=True, slots=True)
class ExecutionPolicy:
    """How a function's jobs run. Declared with the function; FUNCTION_POLICIES overrides."""

    hard_time_limit: float  # seconds; the pool process is killed, the job FAILED
    soft_time_limit: float  # seconds; SoftTimeLimitExceeded is raised inside the function
    max_retries: int  # reruns after TransientJobError or a lost worker
    retry_backoff: float  # seconds before the first retry; doubles each time, with jitter
    retry_backoff_max: float
    max_age_seconds: float | None  # a job not started within this ends EXPIRED

    def retry_delay(self, retries: int) -> float:
        delay = min(self.retry_backoff * 2.0**retries, self.retry_backoff_max)
        return float(delay * random.uniform(0.5, 1.0))  # jitter: retries of many jobs spread out


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str
    description: str
    input_model: type[BaseModel]
    func: Callable[..., Any]
    policy: ExecutionPolicy

    def input_schema(self) -> dict[str, Any]:
        return self.input_model.model_json_schema()


_CATALOG: dict[str, FunctionSpec] = {}


def _policy(name: str, declared: dict[str, Any]) -> ExecutionPolicy:
    settings = get_settings()
    hard = settings.longest_job_seconds
    values: dict[str, Any] = {
        "hard_time_limit": hard,
        "soft_time_limit": None,
        "max_retries": settings.job_max_attempts - 1,
        "retry_backoff": 1.0,
        "retry_backoff_max": 60.0,
        "max_age_seconds": None,
        **{k: v for k, v in declared.items() if v is not None},
        **settings.function_policies.get(name, {}),
    }
    unknown = set(values) - {f.name for f in fields(ExecutionPolicy)}
    if unknown:
        raise ValueError(f"unknown execution policy fields for {name}: {sorted(unknown)}")
    if values["soft_time_limit"] is None:
        values["soft_time_limit"] = max(values["hard_time_limit"] - 2, 1)
    if values["hard_time_limit"] >= settings.celery_visibility_timeout:
        raise ValueError(f"{name}: hard_time_limit must be below CELERY_VISIBILITY_TIMEOUT")
    return ExecutionPolicy(**values)


def job_function(
    *,
    input_model: type[BaseModel],
    description: str,
    hard_time_limit: float | None = None,
    soft_time_limit: float | None = None,
    max_retries: int | None = None,
    retry_backoff: float | None = None,
    max_age_seconds: float | None = None,
) -> Callable[[F], F]:
    """Register `func` as a job function named after itself, with its execution policy."""

    def register(func: F) -> F:
        name = func.__name__
        if name in _CATALOG:
            raise ValueError(f"job function {name!r} is registered twice")
        policy = _policy(name, {
            "hard_time_limit": hard_time_limit, "soft_time_limit": soft_time_limit,
            "max_retries": max_retries, "retry_backoff": retry_backoff,
            "max_age_seconds": max_age_seconds,
        })

        def run(self: Any, **kwargs: Any) -> Any:
            if getattr(self.request, SKIP_FLAG, False):
                raise Ignore()
            params = input_model.model_validate(kwargs)
            try:
                return func(**params.model_dump())
            except TransientJobError as exc:
                if self.request.retries >= policy.max_retries:
                    raise
                raise self.retry(exc=exc,
                                 countdown=policy.retry_delay(self.request.retries)) from exc

        run.__name__ = name
        run.__doc__ = func.__doc__
        celery_app.task(
            name=name,
            bind=True,
            time_limit=policy.hard_time_limit,
            soft_time_limit=policy.soft_time_limit,
            max_retries=policy.max_retries,
            default_retry_delay=1,  # after a lost worker: retry soon, not in 180 s
        )(run)
        _CATALOG[name] = FunctionSpec(name, description, input_model, func, policy)
        return func

    return register


def catalog() -> dict[str, FunctionSpec]:
    """Every job function, by name (importing the modules that define them)."""
    for module in ("tasks.jobs.functions", *get_settings().extra_function_modules):
        importlib.import_module(module)
    return _CATALOG
