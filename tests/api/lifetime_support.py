"""What the actor-lifetime tests of the C++ and Java SDKs share (test_actor_lifetime_cpp.py,
test_actor_lifetime_java.py): the Python module their drivers' actors come from, and how the
test sees an actor's process and its GCS record."""

from __future__ import annotations

import time

import polyray
from polyray.protocol import gcs_pb2 as gcs

#: Seconds the actor may take to go once its last holder lets go.
GONE_S = 10.0

#: ``Target`` is the actor whose lifetime is watched; ``Keeper`` a Python actor that borrows its handle.
MODULE = """
import os


class Target:
    def pid(self):
        return os.getpid()


class Keeper:
    def __init__(self):
        self.kept = []

    def keep(self, h):
        self.kept.append(h)
        return len(self.kept)

    def drop(self):
        self.kept.clear()
        return True
"""


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie not reaped yet has exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def actor_info(actor_id_hex: str) -> gcs.ActorInfo:
    """The GCS's record of the actor, asked through this (the test's) driver."""
    core = polyray.api._core()
    aid = bytes.fromhex(actor_id_hex)
    return core.rpc(lambda: core.gcs.GetActorInfo(gcs.GetActorInfoRequest(actor_id=aid), timeout=10),
                    timeout=15).actor


def destroyed_within(pid: int, actor_id_hex: str, timeout: float = GONE_S) -> float | None:
    """Seconds until the process is gone and the actor DEAD, or None past ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not alive(pid) and actor_info(actor_id_hex).state == gcs.DEAD:
            return time.monotonic() - start
        time.sleep(0.05)
    return None
