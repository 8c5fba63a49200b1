"""Listing jobs newest first: the page shape and its opaque cursors.

A cursor names a position in the job index (created_at, id). It is base64 text so clients
treat it as opaque; decoding checks it fully, so a forged or truncated one is bad input.
"""

from __future__ import annotations

import base64
import binascii
import math
import uuid
from dataclasses import dataclass

from gateway.services.errors import InvalidInput
from tasks.jobs.record import JobRecord

PAGE_MAX = 100  # largest `first`
PAGE_DEFAULT = 20
SCAN_LIMIT = 1000  # index entries one listing reads at most (bounds a filtered listing)
MAX_CURSOR_LENGTH = 200


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A place in the index. Newest first means descending (created_at, id) order."""

    created_at: float
    job_id: str


@dataclass(frozen=True, slots=True)
class JobPage:
    edges: list[tuple[str, JobRecord]]  # (cursor, record), newest first
    has_next_page: bool
    end_cursor: str | None  # where the next page starts (after the last edge or scan)


def encode_cursor(position: Position) -> str:
    raw = f"{position.created_at!r}|{position.job_id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> Position:
    bad = InvalidInput("after: not a cursor returned by this API (use pageInfo.endCursor)")
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise bad
    try:
        created, _, job_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        created_at = float(created)
    except (binascii.Error, UnicodeError, ValueError):
        raise bad from None
    if not math.isfinite(created_at) or not _is_uuid(job_id):
        raise bad
    return Position(created_at, job_id)


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def check_page_size(first: int) -> int:
    if not 1 <= first <= PAGE_MAX:
        raise InvalidInput(f"first: must be between 1 and {PAGE_MAX} (got {first})")
    return first
