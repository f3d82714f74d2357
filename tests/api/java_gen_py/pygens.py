"""Python generator functions a Java caller streams from (tests/api/test_java_generators.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator


def gated(n: int, gate: str, fail_at: int = -1) -> Iterator[int]:
    """Yields 0, then waits (at most 30 s) for the file ``gate`` before yielding 10, 20, ...;
    raises ValueError at item ``fail_at``. Until the caller makes ``gate`` it cannot end."""
    for i in range(n):
        if i == fail_at:
            raise ValueError(f"python boom at {i}")
        yield i * 10
        if i == 0:
            deadline = time.monotonic() + 30
            while not os.path.exists(gate):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"nobody made {gate} within 30 s")
                time.sleep(0.01)
