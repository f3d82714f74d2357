"""Helpers shared by the shared-store tests and their child processes."""

from __future__ import annotations

import hashlib
import os
import sys

from polyray.store import OBJECT_ID_SIZE

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "store_child.py")


def oid(n: int, tag: bytes = b"t") -> bytes:
    """A deterministic object id for number n (OBJECT_ID_SIZE bytes)."""
    return (tag + b":" + n.to_bytes(8, "little")).ljust(OBJECT_ID_SIZE, b"\0")


def payload(object_id: bytes, size: int) -> bytes:
    """Deterministic content for object_id, so any process can check it."""
    block = hashlib.blake2b(object_id).digest()
    return (block * (size // len(block) + 1))[:size]


def child_cmd(*args: object) -> list[str]:
    """argv that runs tests/store/store_child.py with this interpreter."""
    return [sys.executable, CHILD, *map(str, args)]
