"""The function catalog: the single list of job functions and the input each one takes.

A job function is one decorated Python function:

    @job_function(input_model=SumInput, description="...",
                  limits=lambda settings: {"number": settings.sum_max_number})
    def sum_to_n_job(number: int) -> int: ...

The decorator only records the definition, so importing a module of functions reads no
settings. A process builds its `Catalog(settings)` where it starts: each function's
execution policy (declared, then FUNCTION_POLICIES) and its input model with the bounds
the settings give (`limits`: field name to its largest value). The gateway validates
submissions against that catalog; the worker registers one Celery task per function on
its app (`register_tasks`).

A function reports how far it is with `progress(done, total, message=None)` from here
(tasks/jobs/progress.py): throttled, so a loop may call it freely.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Annotated, Any, TypeVar

import annotated_types
from celery import Celery
from celery.exceptions import Ignore
from pydantic import BaseModel, create_model

from tasks.jobs.progress import progress as progress  # a job function reports with it
from tasks.queues import ROLES, SHORT
from tasks.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
Limits = Callable[[Settings], Mapping[str, float]]

BUILTIN_MODULE = "tasks.jobs.functions"
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
    queue: str  # the broker queue its jobs go to (tasks/queues.py; declared as a role)

    def retry_delay(self, retries: int) -> float:
        delay = min(self.retry_backoff * 2.0**retries, self.retry_backoff_max)
        return float(delay * random.uniform(0.5, 1.0))  # jitter: retries of many jobs spread out


@dataclass(frozen=True, slots=True)
class FunctionDefinition:
    """What a module declares with @job_function: no settings in it yet."""

    name: str
    description: str
    input_model: type[BaseModel]
    func: Callable[..., Any]
    declared: dict[str, Any]  # the policy fields the decorator was given
    limits: Limits | None


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A function as this process's settings make it: its bounded input and its policy."""

    name: str
    description: str
    input_model: type[BaseModel]
    func: Callable[..., Any]
    policy: ExecutionPolicy

    def input_schema(self) -> dict[str, Any]:
        return self.input_model.model_json_schema()


_DEFINITIONS: dict[str, FunctionDefinition] = {}


def job_function(
    *,
    input_model: type[BaseModel],
    description: str,
    limits: Limits | None = None,
    hard_time_limit: float | None = None,
    soft_time_limit: float | None = None,
    max_retries: int | None = None,
    retry_backoff: float | None = None,
    max_age_seconds: float | None = None,
    queue: str | None = None,
) -> Callable[[F], F]:
    """Declare `func` a job function named after itself, with its input and policy."""

    def register(func: F) -> F:
        name = func.__name__
        if name in _DEFINITIONS:
            raise ValueError(f"job function {name!r} is registered twice")
        declared = {"hard_time_limit": hard_time_limit, "soft_time_limit": soft_time_limit,
                    "max_retries": max_retries, "retry_backoff": retry_backoff,
                    "max_age_seconds": max_age_seconds, "queue": queue}
        _DEFINITIONS[name] = FunctionDefinition(
            name, description, input_model, func,
            {k: v for k, v in declared.items() if v is not None}, limits)
        return func

    return register


def policy(settings: Settings, name: str, declared: Mapping[str, Any]) -> ExecutionPolicy:
    """Defaults from the settings, then what the function declares, then
    FUNCTION_POLICIES."""
    values: dict[str, Any] = {
        "hard_time_limit": settings.longest_job_seconds,
        "soft_time_limit": None,
        "max_retries": settings.job_max_attempts - 1,
        "retry_backoff": 1.0,
        "retry_backoff_max": 60.0,
        "max_age_seconds": None,
        "queue": SHORT,
        **declared,
        **settings.function_policies.get(name, {}),
    }
    unknown = set(values) - {f.name for f in fields(ExecutionPolicy)}
    if unknown:
        raise ValueError(f"unknown execution policy fields for {name}: {sorted(unknown)}")
    if values["queue"] not in settings.queues:
        raise ValueError(f"{name}: queue must be one of {', '.join(ROLES)}")
    values["queue"] = settings.queues[values["queue"]]
    if values["soft_time_limit"] is None:
        values["soft_time_limit"] = max(values["hard_time_limit"] - 2, 1)
    if values["hard_time_limit"] >= settings.celery_visibility_timeout:
        raise ValueError(f"{name}: hard_time_limit must be below CELERY_VISIBILITY_TIMEOUT")
    return ExecutionPolicy(**values)


def bounded(model: type[BaseModel], maxima: Mapping[str, float]) -> type[BaseModel]:
    """`model` with each named field at most its maximum (`le`), under the same name: the
    JSON Schema and the error messages say the bound as if it had been declared."""
    if not maxima:
        return model
    overrides: dict[str, Any] = {}
    for field, maximum in maxima.items():
        info = model.model_fields[field]  # its default, description and other bounds stay
        overrides[field] = (Annotated[info.annotation, annotated_types.Le(maximum)], info)
    made: type[BaseModel] = create_model(model.__name__, __base__=model,
                                         __module__=model.__module__, **overrides)
    return made


class Catalog(Mapping[str, FunctionSpec]):
    """The job functions of the built-in module and EXTRA_FUNCTION_MODULES (imported here),
    by name, as `settings` make them."""

    def __init__(self, settings: Settings) -> None:
        modules = {importlib.import_module(name).__name__
                   for name in (BUILTIN_MODULE, *settings.extra_function_modules)}
        self._specs = {
            name: FunctionSpec(
                name, d.description,
                bounded(d.input_model, d.limits(settings) if d.limits else {}),
                d.func, policy(settings, name, d.declared))
            for name, d in _DEFINITIONS.items() if d.func.__module__ in modules}

    def __getitem__(self, name: str) -> FunctionSpec:
        return self._specs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


def register_tasks(app: Celery, catalog: Catalog) -> None:
    """One Celery task per function, named after it, with its policy's limits."""
    for spec in catalog.values():
        app.task(
            name=spec.name,
            bind=True,
            time_limit=spec.policy.hard_time_limit,
            soft_time_limit=spec.policy.soft_time_limit,
            max_retries=spec.policy.max_retries,
            queue=spec.policy.queue,
            default_retry_delay=1,  # after a lost worker: retry soon, not in 180 s
        )(_runner(spec))


def _runner(spec: FunctionSpec) -> Callable[..., Any]:
    def run(self: Any, **kwargs: Any) -> Any:
        if getattr(self.request, SKIP_FLAG, False):
            raise Ignore()
        params = spec.input_model.model_validate(kwargs)
        try:
            return spec.func(**params.model_dump())
        except TransientJobError as exc:
            if self.request.retries >= spec.policy.max_retries:
                raise
            raise self.retry(exc=exc,
                             countdown=spec.policy.retry_delay(self.request.retries)) from exc

    run.__name__ = spec.name
    run.__doc__ = spec.func.__doc__
    return run
