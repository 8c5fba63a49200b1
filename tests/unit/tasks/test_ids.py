"""Pooled random ids (tasks/ids.py): real UUID4s, never repeated across a fork."""

from __future__ import annotations

import os
import uuid

from tasks.ids import random_hex, random_uuid


def test_pooled_random_ids_are_uuid4() -> None:
    ids = [random_uuid() for _ in range(600)]  # past one pool of random bytes
    assert len(set(ids)) == len(ids)
    for text in ids[:5] + ids[-5:]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text
    assert uuid.UUID(hex=random_hex()).version == 4


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    random_uuid()  # the parent now holds a pool the child inherits
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write_end, random_uuid().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read_end, 64).decode() != random_uuid()
