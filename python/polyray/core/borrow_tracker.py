"""Borrow registrations this process sends to the owners of objects it holds.

The ReferenceCounter decides when this process starts or stops borrowing an
object owned elsewhere; the BorrowTracker carries it out: it queues "added"
and "removed" updates per owner and sends them as UpdateBorrows calls (on the
io loop), at most one call open per owner and MAX_UPDATES_IN_FLIGHT across
owners (docs/ownership.md, "Fan-out"). Before a worker reports a task's
result, the borrows that task made must have reached their owners
(``flush``), so an owner never frees an object a caller is about to receive.

The order rule (docs/ownership.md, "The reference protocol"): a "removed"
update is sent only once every "added" update decided before it, to any
owner, has been answered. Letting go of an outer object makes its owner
release what is nested in it; the adds for those nested refs are decided
first (when the value was decoded), so they have landed at their owners
before the outer object can go. ``BorrowQueue`` holds the rule without I/O
(the property tests in tests/core/unit/test_ref_protocol.py drive it).

Invariants: updates to one owner are sent in the order they were decided;
a removal never overtakes an earlier add, whoever the two owners are;
``flush`` returns only when every update decided before it was answered (or
its owner was found gone).
"""

from __future__ import annotations

import asyncio
import heapq
import os
import signal
from collections import deque
from collections.abc import Callable
from typing import Any

import grpc

from polyray.core.connections import Connections
from polyray.core.io_loop import IoLoop
from polyray.core.rpc import RPC_TIMEOUT
from polyray.core.worker_context import WorkerContext
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import runtime_spec as spec

#: UpdateBorrows calls open at once across owners (one per owner at most).
MAX_UPDATES_IN_FLIGHT = spec.FANOUT_MAX_BORROW_UPDATES_IN_FLIGHT

#: Test hook (tests/chaos/test_lender_death.py; docs/ownership.md, Deaths): with
#: ``POLYRAY_TEST_KILL_AFTER_LEND=1`` a process SIGKILLs itself as soon as an owner
#: answered a lend it made for a caller, i.e. after the lend landed and before the
#: task's result can leave. Never set outside tests.
KILL_AFTER_LEND = os.environ.get("POLYRAY_TEST_KILL_AFTER_LEND") == "1"


#: The kinds of update: the first two keep an object alive ("holds"), the last two let go.
ADDED, LENT, REMOVED, ACKED = "added", "lent", "removed", "acked"
#: In a call taken from the queue: the lender of each acknowledgement (parallel to ACKED).
LENDERS = "lenders"
_HOLDS = (ADDED, LENT)


class BorrowQueue:
    """Borrow updates decided and not yet sent, per (owner, borrower), with the order rule.

    ``decide`` queues updates (each gets a sequence number in decision
    order); ``take(key)`` gives the next call for a key, or None when the key
    has a call open, nothing queued, or its next update lets go of something
    and must wait for earlier holds; ``answered`` records a call's reply.
    A key is (owner worker id, b"") for this process's own updates, and
    (owner worker id, caller worker id) for lends made on a caller's behalf.
    An acknowledgement carries the lender it acknowledges (``decide(...,
    lender=)``; ``take`` gives them under LENDERS, in the order of ACKED).
    ``ordered=False`` is the rule before the protocol (every queued update of
    an owner goes at once, whatever other owners were told): the property
    tests show it frees held objects.
    """

    def __init__(self, ordered: bool = True) -> None:
        self.ordered = ordered
        self._seq = 0
        self._queues: dict[Any, deque] = {}        # key -> deque of (seq, kind, oid)
        self._unacked: list[int] = []              # heap of the seqs of holds not answered yet
        self._acked: set[int] = set()              # answered seqs still in the heap (lazy deletion)
        self.busy: set[Any] = set()                # keys with a call open

    def decide(self, key: Any, added: list | tuple = (), removed: list | tuple = (),
               lent: list | tuple = (), acked: list | tuple = (), lender: bytes = b"") -> None:
        q = self._queues.get(key)
        if q is None:
            q = self._queues[key] = deque()
        for kind, oids in ((ADDED, added), (LENT, lent), (REMOVED, removed)):
            holds = kind in _HOLDS
            for oid in oids:
                self._seq += 1
                q.append((self._seq, kind, oid))
                if holds:
                    heapq.heappush(self._unacked, self._seq)
        for oid in acked:
            self._seq += 1
            q.append((self._seq, ACKED, (oid, lender)))
        if not q:
            del self._queues[key]  # nothing decided: no empty queue to wait on

    def _oldest_unacked(self) -> int:
        heap, acked = self._unacked, self._acked
        while heap and heap[0] in acked:
            acked.discard(heapq.heappop(heap))
        return heap[0] if heap else 1 << 62

    def waiting(self) -> list:
        """Keys with updates queued and no call open."""
        return [k for k, q in self._queues.items() if q and k not in self.busy]

    def take(self, key: Any) -> tuple[dict[str, list], list[int]] | None:
        """The next call for ``key``: ({kind: oids}, seqs of the holds in it), or None."""
        q = self._queues.get(key)
        if not q or key in self.busy:
            return None
        out: dict[str, list] = {ADDED: [], LENT: [], REMOVED: [], ACKED: [], LENDERS: []}
        seqs: list[int] = []
        if not self.ordered:
            while q:
                seq, kind, oid = q.popleft()
                if kind == ACKED:
                    out[ACKED].append(oid[0])
                    out[LENDERS].append(oid[1])
                else:
                    out[kind].append(oid)
                if kind in _HOLDS:
                    seqs.append(seq)
        elif q[0][1] in _HOLDS:
            # Holds go at once (they only keep things alive).
            while q and q[0][1] in _HOLDS:
                seq, kind, oid = q.popleft()
                out[kind].append(oid)
                seqs.append(seq)
        else:
            oldest = self._oldest_unacked()
            n = 0
            while q and q[0][1] not in _HOLDS and q[0][0] < oldest:
                _, kind, oid = q.popleft()
                if kind == ACKED:
                    out[ACKED].append(oid[0])
                    out[LENDERS].append(oid[1])
                else:
                    out[kind].append(oid)
                n += 1
            if not n:
                return None  # an earlier hold is still on its way somewhere
        if not q:
            del self._queues[key]
        self.busy.add(key)
        return out, seqs

    def answered(self, key: Any, seqs: list[int]) -> None:
        """A call for ``key`` was answered (or its owner found gone)."""
        self.busy.discard(key)
        self._acked.update(seqs)

    def has_queued(self, key: Any) -> bool:
        return key in self._queues

    def idle(self) -> bool:
        """Nothing queued and no call open."""
        return not self._queues and not self.busy


class BorrowTracker:
    """Sends borrow updates to owners in the protocol's order and waits for them to land."""

    def __init__(self, *, ctx: WorkerContext, io: IoLoop, connections: Connections,
                 on_released: Callable[[list[bytes]], None]) -> None:
        self._ctx = ctx
        self._io = io
        self._connections = connections
        # Told (on the loop) which borrowed objects are no longer held here,
        # so what was fetched about them is dropped off the user's thread.
        self._on_released = on_released
        self._queue = BorrowQueue()
        self._owners: dict[tuple, pb.Address] = {}
        self._borrowers: dict[tuple, pb.Address] = {}   # keys of lends made on a caller's behalf
        self._kick: asyncio.Future | None = None
        self._idle_waiters: list[asyncio.Future] = []
        #: Calls open now, and the most ever open at once (for tests).
        self.in_flight = 0
        self.max_in_flight = 0
        #: Set when a borrow changed; the push port reads and clears it before
        #: it sends a result (and flushes only then: most tasks borrow nothing).
        self.changed = False

    def on_borrow_change(self, owner: pb.Address, added: list, removed: list, lent: list | tuple = (),
                         acked: list | tuple = (), borrower: pb.Address | None = None,
                         lender: bytes = b"") -> None:
        """The ReferenceCounter's decision (any thread): tell ``owner``.

        ``lent`` (with ``borrower``, a caller): refs travelling to that caller
        in a return (sent naming this process as their lender); ``acked``:
        lends to this process it acknowledges, made by ``lender``."""
        if self._ctx.shutting_down:
            return
        self.changed = True
        self._io.call_soon(self._decide, owner, added, removed, lent, acked, borrower, lender)

    def _decide(self, owner: pb.Address, added: list, removed: list, lent: list | tuple,
                acked: list | tuple, borrower: pb.Address | None, lender: bytes = b"") -> None:
        if removed:
            self._on_released(removed)
        key = (owner.worker_id, borrower.worker_id if borrower is not None else b"")
        self._owners[key] = owner
        if borrower is not None:
            self._borrowers[key] = borrower
        self._queue.decide(key, added, removed, lent, acked, lender)
        if self._kick is None:
            # Decisions made in the same loop turn go out together.
            self._kick = asyncio.ensure_future(self._pump_soon())

    async def _pump_soon(self) -> None:
        await asyncio.sleep(0)
        self._kick = None
        self._pump()

    def _pump(self) -> None:
        queue = self._queue
        for key in queue.waiting():
            if self.in_flight >= MAX_UPDATES_IN_FLIGHT:
                break
            call = queue.take(key)
            if call is None:
                continue
            kinds, seqs = call
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            request = cw.UpdateBorrowsRequest(borrower=self._borrowers.get(key, self._ctx.address),
                                              added=kinds[ADDED], removed=kinds[REMOVED], lent=kinds[LENT],
                                              lent_received=kinds[ACKED], lent_received_lenders=kinds[LENDERS])
            if kinds[LENT]:
                request.lender.CopyFrom(self._ctx.address)  # this process lends, on the caller's behalf
            asyncio.ensure_future(self._send_one(key, request, seqs))
        if queue.idle() and self._kick is None:
            waiters, self._idle_waiters = self._idle_waiters, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)

    async def _send_one(self, key: tuple, request: cw.UpdateBorrowsRequest, seqs: list[int]) -> None:
        try:
            await self._connections.worker(self._owners[key]).UpdateBorrows(request, timeout=RPC_TIMEOUT)
        except grpc.aio.AioRpcError:
            pass  # the owner is gone: nothing to keep alive there
        else:
            if KILL_AFTER_LEND and request.lent:
                os.kill(os.getpid(), signal.SIGKILL)
        finally:
            self.in_flight -= 1
            self._queue.answered(key, seqs)
            if not self._queue.has_queued(key):
                self._owners.pop(key, None)
                self._borrowers.pop(key, None)
            self._pump()

    async def flush(self) -> None:
        """Wait until borrow updates decided so far reached their owners (on the loop)."""
        while not self._queue.idle() or self._kick is not None:
            if self._kick is not None:
                await self._kick
                continue
            w = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(w)
            self._pump()
            await w
