"""Borrow registrations this process sends to the owners of objects it holds.

The ReferenceCounter decides when this process starts or stops borrowing an
object owned elsewhere; the BorrowTracker carries it out: it batches "added"
and "removed" updates per owner and sends one UpdateBorrows per owner (on the
io loop), at most one call open per owner and MAX_UPDATES_IN_FLIGHT across
owners (docs/ownership.md, "Fan-out"). Before a worker reports a task's result, the borrows that task made
must have reached their owners (``flush``), so an owner never frees an
object a caller is about to receive.

Invariants: updates to one owner are sent in the order they were decided;
``flush`` returns only when every update decided before it was answered (or
its owner was found gone).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

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


class BorrowTracker:
    """Batches borrow updates to owners and waits for them to land."""

    def __init__(self, *, ctx: WorkerContext, io: IoLoop, connections: Connections,
                 on_released: Callable[[list[bytes]], None]) -> None:
        self._ctx = ctx
        self._io = io
        self._connections = connections
        # Told (on the loop) which borrowed objects are no longer held here,
        # so what was fetched about them is dropped off the user's thread.
        self._on_released = on_released
        self._pending: dict[bytes, tuple[pb.Address, list, list]] = {}
        self._flush: asyncio.Future | None = None
        # UpdateBorrows calls not yet answered, and the last one per owner (by worker id).
        self._sending: set[asyncio.Future] = set()
        self._tails: dict[bytes, asyncio.Future] = {}
        self._slots: asyncio.Semaphore | None = None
        #: Calls open now, and the most ever open at once (for tests).
        self.in_flight = 0
        self.max_in_flight = 0
        #: Set when a borrow changed; the push port reads and clears it before
        #: it sends a result (and flushes only then: most tasks borrow nothing).
        self.changed = False

    def on_borrow_change(self, owner: pb.Address, added: list, removed: list) -> None:
        """The ReferenceCounter's decision (any thread): tell ``owner``."""
        if self._ctx.shutting_down:
            return
        self.changed = True
        self._io.call_soon(self._queue, owner, added, removed)

    def _queue(self, owner: pb.Address, added: list, removed: list) -> None:
        if removed:
            self._on_released(removed)
        key = owner.worker_id
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = (owner, [], [])
        entry[1].extend(added)
        entry[2].extend(removed)
        if self._flush is None:
            self._flush = asyncio.ensure_future(self._send())

    async def _send(self) -> None:
        await asyncio.sleep(0)
        pending, self._pending = self._pending, {}
        self._flush = None
        address = self._ctx.address
        if self._slots is None:
            self._slots = asyncio.Semaphore(MAX_UPDATES_IN_FLIGHT)
        sends = []
        for key, (owner, added, removed) in pending.items():
            # One call open per owner: a later update to an owner waits for the earlier one (order kept).
            previous = self._tails.get(key)
            send = asyncio.ensure_future(self._send_one(key, owner, cw.UpdateBorrowsRequest(
                borrower=address, added=added, removed=removed), previous))
            self._tails[key] = send
            self._sending.add(send)
            send.add_done_callback(self._sending.discard)
            sends.append(send)
        if sends:
            await asyncio.wait(sends)

    async def _send_one(self, key: bytes, owner: pb.Address, request: cw.UpdateBorrowsRequest,
                        previous: asyncio.Future | None) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])
            assert self._slots is not None
            async with self._slots:  # at most MAX_UPDATES_IN_FLIGHT calls open across owners
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    await self._connections.worker(owner).UpdateBorrows(request, timeout=RPC_TIMEOUT)
                except grpc.aio.AioRpcError:
                    pass  # the owner is gone: nothing to keep alive there
                finally:
                    self.in_flight -= 1
        finally:
            if self._tails.get(key) is asyncio.current_task():
                del self._tails[key]

    async def flush(self) -> None:
        """Wait until borrow registrations made so far reached their owners (on the loop)."""
        while self._flush is not None or self._sending:
            if self._flush is not None:
                await self._flush
            else:
                await asyncio.wait(list(self._sending))
