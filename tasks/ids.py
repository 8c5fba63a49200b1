"""Random ids (UUID version 4) from a pool of random bytes.

`uuid.uuid4()` asks the kernel for 16 bytes each time; a submit needs three ids (job,
request, message tag), and those system calls cost about 7% of the submit path. The pool
takes 4 KiB at a time from the same source (os.urandom) and is dropped in a forked
child, so two processes never hand out the same ids.
"""

from __future__ import annotations

import os

_POOL_BYTES = 4096
_pool = b""
_offset = 0


def _forget_pool() -> None:
    global _pool, _offset
    _pool, _offset = b"", 0


os.register_at_fork(after_in_child=_forget_pool)


def _random16() -> bytearray:
    global _pool, _offset
    if _offset + 16 > len(_pool):
        _pool, _offset = os.urandom(_POOL_BYTES), 0
    raw = bytearray(_pool[_offset:_offset + 16])
    _offset += 16
    return raw


def random_hex() -> str:
    """32 hex digits: `uuid.uuid4().hex`."""
    raw = _random16()
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw.hex()


def random_uuid() -> str:
    """`str(uuid.uuid4())`."""
    h = random_hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
