"""One object per process, made on first use in it: a Redis connection pool must not cross
a fork, and the worker's hooks are built in the main process before the pool forks."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._value: T | None = None
        self._pid = 0

    def get(self) -> T:
        if self._value is None or self._pid != os.getpid():
            self._value = self._make()
            self._pid = os.getpid()
        return self._value
