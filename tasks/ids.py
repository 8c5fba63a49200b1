"""Random ids (UUID version 4) from a pool of random hex digits.

`uuid.uuid4()` asks the kernel for 16 bytes each time; a submit needs three ids (job,
request, message tag), and those system calls cost about 7% of the submit path. The pool
takes 4 KiB at a time from the same source (os.urandom), as hex digits, and is dropped
in a forked child, so two processes never hand out the same ids. An id is then a slice
and two digits set: 0.73 µs, where a bytearray set bit by bit and formatted took 1.1 µs.
"""

from __future__ import annotations

import os

_POOL_BYTES = 4096
_pool = ""  # hex digits, 32 per id
_offset = 0
# The variant digit (RFC 4122: 10xx) from a random digit: its two low bits are kept.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def _forget_pool() -> None:
    global _pool, _offset
    _pool, _offset = "", 0


os.register_at_fork(after_in_child=_forget_pool)


def _random32() -> str:
    """32 random hex digits."""
    global _pool, _offset
    if _offset + 32 > len(_pool):
        _pool, _offset = os.urandom(_POOL_BYTES).hex(), 0
    digits = _pool[_offset:_offset + 32]
    _offset += 32
    return digits


def random_hex() -> str:
    """32 hex digits: `uuid.uuid4().hex` (digit 13 the version, 4; digit 17 the variant)."""
    h = _random32()
    return f"{h[:12]}4{h[13:16]}{_VARIANT[h[16]]}{h[17:]}"


def random_uuid() -> str:
    """`str(uuid.uuid4())`."""
    h = _random32()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"
