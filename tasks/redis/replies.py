"""Reading Redis replies: clients may answer bytes or str (decode_responses differs by use)."""

from __future__ import annotations


def as_text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
