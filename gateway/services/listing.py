"""Listing jobs newest first: the page shape, its opaque cursors, and reading a page from
the index of the listing's filters (tasks/redis/keys.py job_index_key).

Every job is in its tenant's main index, its status's, its function's, and its (status,
function)'s, all by creation time, kept by the Lua that creates a job and changes its status.
So every entry of the index read is an answer, and a page reads `first + 1` entries, plus
at most SKIP_LIMIT it passes over (a record gone before its time, or whose status changed
between the index read and the record read): its cost follows the page, not the history.

A cursor names a position in the job index (created_at, id: tasks/redis/time_index.py; the
same codec serves the failed-message index: gateway/services/message_filters.py). It is
base64 text so clients treat it as opaque; decoding checks it fully, so a forged or
truncated one is bad input.
"""

from __future__ import annotations

import base64
import binascii
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from gateway.services.errors import InvalidInput
from tasks.jobs.record import JobRecord, JobStatus
from tasks.jobs.store import AsyncJobStore
from tasks.redis.time_index import Position, read_after

PAGE_MAX = 100  # largest `first`
PAGE_DEFAULT = 20
SKIP_LIMIT = 200  # entries one page passes over at most before it answers short
MAX_CURSOR_LENGTH = 200


@dataclass(frozen=True, slots=True)
class JobPage:
    edges: list[tuple[str, JobRecord]]  # (cursor, record), newest first
    has_next_page: bool
    end_cursor: str | None  # where the next page starts (after the last edge or scan)


def encode_position(position: Position) -> str:
    """An opaque cursor of a place in an index by time (jobs, failed messages)."""
    return base64.urlsafe_b64encode(f"{position.at!r}|{position.id}".encode()).decode()


def decode_position(cursor: str, valid_id: Callable[[str], bool], hint: str) -> Position:
    """The place a cursor `encode_position` made names; a forged or truncated one, or one
    whose id `valid_id` refuses, is bad input (`hint`: where good cursors come from)."""
    bad = InvalidInput(f"after: not a cursor returned by this API ({hint})")
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise bad
    try:
        at_text, _, item_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        at = float(at_text)
    except (binascii.Error, UnicodeError, ValueError):
        raise bad from None
    if not math.isfinite(at) or not valid_id(item_id):
        raise bad
    return Position(at, item_id)


def decode_cursor(cursor: str) -> Position:
    return decode_position(cursor, _is_uuid, "use pageInfo.endCursor")


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def check_page_size(first: int) -> int:
    if not 1 <= first <= PAGE_MAX:
        raise InvalidInput(f"first: must be between 1 and {PAGE_MAX} (got {first})")
    return first


def check_status(status: str | None) -> JobStatus | None:
    if status is None or isinstance(status, JobStatus):
        return status
    try:
        return JobStatus(status)
    except ValueError:
        known = ", ".join(s.value for s in JobStatus)
        raise InvalidInput(f"status: unknown status {status[:40]!r}; known statuses: "
                           f"{known}") from None


@dataclass(frozen=True, slots=True)
class Listing:
    """One page's request: whose jobs, which index, and what each record must match."""

    tenant: str
    index: str
    status: JobStatus | None
    function: str | None
    first: int
    start: Position | None  # the previous page's end (exclusive)
    oldest: float  # created before this, a record has expired

    def matches(self, record: JobRecord) -> bool:
        return (record.tenant == self.tenant
                and (self.status is None or record.status is self.status)
                and (self.function is None or record.function == self.function))


async def read_page(store: AsyncJobStore, q: Listing) -> JobPage:
    """A page newest first from `q.index`: full unless it is the last, or short (with
    `has_next_page`) after passing over SKIP_LIMIT entries. Expired entries are trimmed by
    time, and those whose record is gone early are dropped as they are met."""
    await store.trim_index(q.index, q.oldest)
    edges: list[tuple[str, JobRecord]] = []
    gone: list[str] = []
    last = q.start
    passed = 0
    exhausted = False
    while len(edges) <= q.first and passed < SKIP_LIMIT:
        # What the page still needs, plus as many as were passed over so far (bounded).
        count = q.first + 1 - len(edges) + min(passed, SKIP_LIMIT - passed)
        entries = await read_after(store.client, q.index, last, count, since=q.oldest)
        exhausted = len(entries) < count
        records = await store.get_many([entry.id for entry in entries])
        for entry, record in zip(entries, records, strict=True):
            if len(edges) > q.first:
                break
            last = entry
            if record is not None and q.matches(record):
                edges.append((encode_position(entry), record))
                continue
            passed += 1
            if record is None:
                gone.append(entry.id)
        if exhausted:
            break
    await store.forget(q.index, gone)
    if len(edges) > q.first:
        return JobPage(edges[:q.first], True, edges[q.first - 1][0])
    if exhausted or last is None:
        return JobPage(edges, False, edges[-1][0] if edges else None)
    # Passed over SKIP_LIMIT entries without filling the page: continue from there.
    return JobPage(edges, True, encode_position(last))
