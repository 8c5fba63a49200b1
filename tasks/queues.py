"""The job queues: one for short jobs and one for long ones.

Every function's policy names a queue by its role, `short` (the default) or `long`
(`wait_and_return`); the settings map the roles to the broker's queue names (CELERY_QUEUE,
CELERY_LONG_QUEUE). The gateway sends each job to its function's queue, and
`python -m worker` runs one Celery worker per queue, each with the queue's prefetch, so a
20 s job never holds a pool process or a prefetched slot that a 1 ms job waits for. With
CELERY_LONG_QUEUE empty both roles name the one queue, as before there were two.
"""

from __future__ import annotations

from collections.abc import Mapping

SHORT = "short"
LONG = "long"
ROLES = (SHORT, LONG)
# A queue's name: a Redis key and an AMQP queue name alike; never a comma (`-Q a,b`).
QUEUE_NAME_PATTERN = r"^[A-Za-z0-9_.:-]{1,200}$"


def queue_names(short: str, long: str) -> dict[str, str]:
    """Each role's queue name; an empty long queue is the short one."""
    return {SHORT: short, LONG: long or short}


def check_names(short: str, long: str) -> None:
    """A queue may not bear the other role's name: `-Q long` would name two queues."""
    if short == LONG or long == SHORT:
        raise ValueError(f"CELERY_QUEUE may not be {LONG!r} nor CELERY_LONG_QUEUE {SHORT!r}: "
                         "`python -m worker -Q` names queues by role or by name")


def check_policy_values(function: str, fields: Mapping[str, float | str]) -> None:
    """FUNCTION_POLICIES' values: a known queue role, numbers for everything else."""
    for field, value in fields.items():
        if field == "queue":
            if value not in ROLES:
                raise ValueError(f"FUNCTION_POLICIES: the queue of {function} must be one of "
                                 f"{', '.join(ROLES)} (got {str(value)[:40]!r})")
        elif isinstance(value, str):
            raise ValueError(f"FUNCTION_POLICIES: {field} of {function} must be a number")


def chosen(queues: Mapping[str, str], wanted: str) -> list[str]:
    """The queue names a `-Q short,long` list asks for (roles or the queues' own names), in
    order, each once; ValueError names what is unknown."""
    names: list[str] = []
    for item in filter(None, (part.strip() for part in wanted.split(","))):
        name = queues.get(item) or (item if item in queues.values() else None)
        if name is None:
            known = ", ".join(dict.fromkeys([*queues, *queues.values()]))
            raise ValueError(f"unknown queue {item[:40]!r}: this worker can consume {known}")
        if name not in names:
            names.append(name)
    if not names:
        raise ValueError("-Q names no queue: give short, long or both (short,long)")
    return names
