"""The function catalog: the single list of job functions and the input each one takes.

A job function is one decorated Python function:

    @job_function(input_model=SumInput, description="...")
    def sum_to_n_job(number: int) -> int: ...

The decorator registers a Celery task under the function's name and adds the function to
the catalog, which REST and GraphQL validate submissions against.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from celery.exceptions import Ignore
from pydantic import BaseModel

from tasks.celery_app import celery_app
from tasks.settings import get_settings

F = TypeVar("F", bound=Callable[..., Any])

# Set on the Celery request by the worker's task_prerun hook when the job must not run
# (cancelled before it started, record gone, or out of attempts).
SKIP_FLAG = "gateway_skip"


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str
    description: str
    input_model: type[BaseModel]
    func: Callable[..., Any]
    hard_time_limit: float

    def input_schema(self) -> dict[str, Any]:
        return self.input_model.model_json_schema()


_CATALOG: dict[str, FunctionSpec] = {}


def job_function(
    *, input_model: type[BaseModel], description: str, hard_time_limit: float | None = None
) -> Callable[[F], F]:
    """Register `func` as a job function named after itself."""

    def register(func: F) -> F:
        name = func.__name__
        if name in _CATALOG:
            raise ValueError(f"job function {name!r} is registered twice")
        settings = get_settings()
        limit = hard_time_limit or settings.longest_job_seconds

        def run(self: Any, **kwargs: Any) -> Any:
            if getattr(self.request, SKIP_FLAG, False):
                raise Ignore()
            params = input_model.model_validate(kwargs)
            return func(**params.model_dump())

        run.__name__ = name
        run.__doc__ = func.__doc__
        celery_app.task(
            name=name,
            bind=True,
            time_limit=limit,
            soft_time_limit=limit - 2,
            max_retries=settings.job_max_attempts - 1,
            default_retry_delay=1,  # after a lost worker: retry soon, not in 180 s
        )(run)
        _CATALOG[name] = FunctionSpec(name, description, input_model, func, limit)
        return func

    return register


def catalog() -> dict[str, FunctionSpec]:
    """Every job function, by name (importing the module that defines them)."""
    importlib.import_module("tasks.functions")
    return _CATALOG
