"""Releases what dead processes borrowed or were lent here.

An owner counts other processes' borrows and the lends made to callers
(``ReferenceCounter``). A process that dies never sends its removals or
acknowledgements, so, while the counter has any such holder, this watch asks
the GCS every ``borrowers.death_watch_ms`` which of them are dead
(``GetDeadWorkers``: one call naming every holder; no per-object calls) and
calls ``ReferenceCounter.drop_borrower`` for each one found dead in two
consecutive rounds, which frees what only it held. The second round is a
grace of one interval for updates still in flight: a live process that got
a ref from the dead one just before it died (a value it read, a task
argument) registers with the owner by an "added" that may still be on its
way, and the dead one's hold must outlive it. The watch runs only while the
counter has holders: the counter wakes it when its first holder appears
(docs/ownership.md, "The reference protocol", Deaths).

Bound from a holder's death to the free: the raylet's report to the GCS (a
worker's exit at once, a driver's pid poll up to 1 s; a node's death after
the GCS's node timeout) plus two ``death_watch_ms`` rounds plus one GCS call.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from polyray.core.reference_counter import ReferenceCounter
from polyray.protocol import common_pb2 as pb
from polyray.protocol import gcs_pb2
from polyray.protocol import runtime_spec as rspec

WATCH_S = rspec.BORROWERS_DEATH_WATCH_MS / 1000.0
#: Holders named in one GetDeadWorkers call at most (the GCS accepts 100,000).
MAX_PER_CALL = 10_000


class BorrowerWatch:
    """Asks the GCS about the counter's holders while there are any."""

    def __init__(self, *, references: ReferenceCounter, gcs: Any, self_id: bytes,
                 interval_s: float = WATCH_S, timeout_s: float = 5.0) -> None:
        """``gcs`` is a callable returning the GCS stub (its channel may open later)."""
        self._references = references
        self._gcs = gcs
        self._self_id = self_id
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._task: asyncio.Task | None = None
        self._closed = False
        self._suspects: set[bytes] = set()  # found dead in the last round: dropped if dead in the next
        self.calls = 0  # GetDeadWorkers calls made (tests, debugging)

    def start(self) -> None:
        """(On the loop.) Begin watching, unless already watching."""
        if self._task is None and not self._closed:
            self._task = asyncio.ensure_future(self._run())

    def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        try:
            while not self._closed:
                await asyncio.sleep(self._interval_s)
                holders = self._references.holders()
                if not holders:
                    return  # the counter wakes the watch with its next holder
                asked = [a if a is not None else pb.Address(worker_id=w)
                         for w, a in holders if w != self._self_id]
                dead: set[bytes] = set()
                for i in range(0, len(asked), MAX_PER_CALL):
                    dead |= await self._ask(asked[i:i + MAX_PER_CALL])
                confirmed = dead & self._suspects
                self._suspects = dead - confirmed
                for worker_id in confirmed:
                    self._references.drop_borrower(worker_id)
        finally:
            self._task = None

    async def _ask(self, workers: list[pb.Address]) -> set[bytes]:
        self.calls += 1
        try:
            reply = await self._gcs().GetDeadWorkers(gcs_pb2.GetDeadWorkersRequest(workers=workers),
                                                     timeout=self._timeout_s)
        except grpc.aio.AioRpcError:
            return set()  # the GCS is away (or older): ask again next time
        return set(reply.dead_worker_ids)
