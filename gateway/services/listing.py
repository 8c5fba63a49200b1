"""Listing jobs newest first: the page shape and its opaque cursors.

A cursor names a position in the job index (created_at, id) (the same codec serves the
failed-message index: gateway/services/message_filters.py). It is base64 text so clients
treat it as opaque; decoding checks it fully, so a forged or truncated one is bad input.
"""

from __future__ import annotations

import base64
import binascii
import math
import uuid
from collections.abc import Callable
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


def encode_position(at: float, item_id: str) -> str:
    """An opaque cursor of a place (time, id) in an index by time (jobs, failed messages)."""
    return base64.urlsafe_b64encode(f"{at!r}|{item_id}".encode()).decode()


def decode_position(cursor: str, valid_id: Callable[[str], bool], hint: str) -> tuple[float, str]:
    """The (time, id) of a cursor `encode_position` made; a forged or truncated one, or one
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
    return at, item_id


def encode_cursor(position: Position) -> str:
    return encode_position(position.created_at, position.job_id)


def decode_cursor(cursor: str) -> Position:
    return Position(*decode_position(cursor, _is_uuid, "use pageInfo.endCursor"))


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def check_page_size(first: int) -> int:
    if not 1 <= first <= PAGE_MAX:
        raise InvalidInput(f"first: must be between 1 and {PAGE_MAX} (got {first})")
    return first
