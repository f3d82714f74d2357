"""Which owners of borrowed objects this process knows to be dead (issue 14, local reads).

A ``get`` of a borrowed object that is sealed in this node's store reads the
local copy without asking the owner (docs/ownership.md, "Local reads"), as
Ray does, but only while the owner is not known to be dead. This process
learns an owner's death two ways:

* a call to the owner failed with UNAVAILABLE (nothing listens at its
  address: a ``GetObjects``/``GetObject`` answered that way; ``mark_dead``);
* the watch: every owner read from locally is watched for ``IDLE_S`` after
  its last local read, and while any is watched, one ``GetDeadWorkers`` call
  every ``borrowers.death_watch_ms`` (1 s) asks the GCS which of them are
  dead (the GCS knows a worker's death from its raylet at once, a driver's
  within 1 s, a node's after the node timeout). No grace round: a dead
  process never comes back.

There is no worker-failure push from the GCS in polyray; this poll is its
stand-in, with the same shape as the owner's ``BorrowerWatch``. A dead owner
is remembered for the life of this process (worker ids are never reused).

Invariants: ``note`` and ``is_dead`` are cheap and thread-safe (no lock:
single dict/set operations under the GIL); the loop runs only while some
owner is watched; a GCS that does not answer changes nothing (asked again
next round).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import grpc

from polyray.protocol import common_pb2 as pb
from polyray.protocol import gcs_pb2
from polyray.protocol import runtime_spec as rspec

#: Seconds between two GetDeadWorkers calls while owners are watched.
WATCH_S = rspec.BORROWERS_DEATH_WATCH_MS / 1000.0
#: An owner not read from locally for this long is no longer watched.
IDLE_S = 60.0
#: Owners named in one GetDeadWorkers call at most (the GCS accepts 100,000).
MAX_PER_CALL = 10_000


class OwnerWatch:
    """Owners known dead, and the GCS poll that finds them."""

    def __init__(self, *, gcs: Callable[[], Any], wake: Callable[[], None] | None = None,
                 interval_s: float = WATCH_S, idle_s: float = IDLE_S, timeout_s: float = 5.0) -> None:
        """``gcs`` returns the GCS stub; ``wake`` starts the loop from any thread (``start`` on the io loop)."""
        self._gcs = gcs
        self._wake = wake
        self._interval_s = interval_s
        self._idle_s = idle_s
        self._timeout_s = timeout_s
        self._dead: set[bytes] = set()
        # worker id -> (address, monotonic time of its last local read)
        self._watched: dict[bytes, tuple[pb.Address, float]] = {}
        self._task: asyncio.Task | None = None
        self._closed = False
        self.calls = 0  # GetDeadWorkers calls made (tests, debugging)

    def is_dead(self, worker_id: bytes) -> bool:
        """True once this process knows the owner ``worker_id`` died."""
        return worker_id in self._dead

    def mark_dead(self, worker_id: bytes) -> None:
        """The owner ``worker_id`` is dead (a call to it found nothing listening)."""
        self._dead.add(worker_id)
        self._watched.pop(worker_id, None)

    def note(self, owner: pb.Address) -> None:
        """(Any thread.) ``owner``'s object was read locally: watch it for IDLE_S more."""
        wid = owner.worker_id
        if wid in self._dead:
            return
        self._watched[wid] = (owner, time.monotonic())
        if self._task is None and self._wake is not None and not self._closed:
            self._wake()

    def watched(self) -> list[bytes]:
        """The worker ids watched now (tests, debugging)."""
        return list(self._watched)

    def start(self) -> None:
        """(On the loop.) Begin polling, unless already polling."""
        if self._task is None and not self._closed and self._watched:
            self._task = asyncio.ensure_future(self._run())

    def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        try:
            while not self._closed:
                await asyncio.sleep(self._interval_s)
                if not await self.round():
                    return  # nothing watched: the next note wakes the loop
        finally:
            self._task = None

    async def round(self) -> bool:
        """One poll: drop idle owners, ask the GCS about the rest; False when none is watched."""
        now = time.monotonic()
        for wid, (_, last) in list(self._watched.items()):
            if now - last > self._idle_s:
                self._watched.pop(wid, None)
        asked = [address for address, _ in list(self._watched.values())]
        if not asked:
            return False
        for i in range(0, len(asked), MAX_PER_CALL):
            for wid in await self._ask(asked[i:i + MAX_PER_CALL]):
                self.mark_dead(wid)
        return True

    async def _ask(self, owners: list[pb.Address]) -> set[bytes]:
        self.calls += 1
        try:
            reply = await self._gcs().GetDeadWorkers(gcs_pb2.GetDeadWorkersRequest(workers=owners),
                                                     timeout=self._timeout_s)
        except grpc.aio.AioRpcError:
            return set()  # the GCS is away: ask again next round
        return set(reply.dead_worker_ids)


def reads_locally(*, has_owner: bool, owned: bool, registered: bool, owner_dead: bool) -> bool:
    """Whether a get may take a ref's value from a copy sealed in this node's store
    without its owner's answer (the store's having the copy is checked by the read).

    Only a borrowed ref (an owner, not this process) whose borrow is registered
    (this process decided its "added" to the owner, so by the order rule the
    owner keeps the object while the ref is held here: the ref came in a task
    return, which the owner's lend holds until acknowledged after that add; in a
    task argument, held by the caller's count; or inside a value held here) and
    whose owner is not known to be dead.
    """
    return has_owner and not owned and registered and not owner_dead
