"""Checks that the Java and C++ parity tests share: the concurrency-group checks a Python
caller makes of a Java and of a C++ actor, and the wait for a file a task writes.

Both test actors have a ``block(ms)`` method (a nap that records how many naps run at
once), a ``fast()`` method and ``most()`` (the most naps seen at once); only the
spelling of the names differs between the languages. Why no clock limits: the
checks are about order — the quick calls answer while the second nap of the
one-thread group cannot have started yet — so a busy machine cannot fail them.
"""

from __future__ import annotations

import os
import time

import pytest

import polyray
from polyray.exceptions import TaskError

TIMEOUT = 60
NAP_MS = 1500


def check_groups(cls, name: str, fast: str, block: str, most: str) -> None:
    """Creates ``cls`` with groups slow=1 and quick=2 under ``name`` and checks that a
    full group holds up neither another group nor the default one, that the one-thread
    group runs one call at a time, and that an undeclared group is refused: at
    ``.remote()`` by the creator's handle, by the actor for a handle from ``get_actor``."""
    a = cls.options(concurrency_groups={"slow": 1, "quick": 2}, name=name).remote()
    assert polyray.get(getattr(a, fast).remote(), timeout=TIMEOUT) == 1
    slow = [getattr(a, block).options(concurrency_group="slow").remote(NAP_MS) for _ in range(2)]
    assert polyray.get(getattr(a, fast).options(concurrency_group="quick").remote(), timeout=TIMEOUT) == 1
    assert polyray.get(getattr(a, fast).remote(), timeout=TIMEOUT) == 1  # the default group
    ready, _ = polyray.wait(slow[1:], timeout=0)
    assert not ready, "a call of another group waited for the 'slow' group's second nap"
    assert polyray.get(slow, timeout=TIMEOUT) == [NAP_MS, NAP_MS]
    assert polyray.get(getattr(a, most).remote(), timeout=TIMEOUT) == 1, "the 'slow' group ran two naps at once"
    with pytest.raises(ValueError, match="concurrency group 'nope' is not declared"):
        getattr(a, fast).options(concurrency_group="nope").remote()
    found = polyray.get_actor(name)
    with pytest.raises(TaskError, match="concurrency group 'nope' is not declared"):
        polyray.get(getattr(found, fast).options(concurrency_group="nope").remote(), timeout=TIMEOUT)


def wait_file(path: str, timeout: float = 30) -> str:
    """The text of ``path`` once a task has written it (within ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                return f.read()
        time.sleep(0.02)
    raise AssertionError(f"{path} did not appear within {timeout} s")
