"""Reading Server-Sent Events as a browser's EventSource does: `data:` lines joined, `event:`
names ("message" when unnamed), an event dispatched at each blank line; comment lines
(`: ...`) kept apart. Each event carries when it arrived, for the tests that check an
event came before something else happened."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

EVENTS_PATH = "/producer/api/jobs/{id}/events"


@dataclass(frozen=True)
class Event:
    name: str
    data: str
    at: float  # time.monotonic() when it arrived

    def json(self) -> Any:
        return json.loads(self.data)


def read_events(lines: Iterable[str], comments: list[str] | None = None) -> Iterator[Event]:
    data: list[str] = []
    name = "message"
    for line in lines:
        if line == "":
            if data:
                yield Event(name, "\n".join(data), time.monotonic())
            data, name = [], "message"
        elif line.startswith(":"):
            if comments is not None:
                comments.append(line)
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                data.append(value)
            elif field == "event":
                name = value


def job_events(client: httpx.Client, job_id: str, timeout: float = 60) -> list[Event]:
    """Every event of the job's stream, read until the gateway ends it."""
    with client.stream("GET", EVENTS_PATH.format(id=job_id), timeout=timeout) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        return list(read_events(r.iter_lines()))
