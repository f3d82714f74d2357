"""Borrow registrations this process sends to the owners of objects it holds.

The ReferenceCounter decides when this process starts or stops borrowing an
object owned elsewhere; the BorrowTracker carries it out: it batches "added"
and "removed" updates per owner and sends one UpdateBorrows per owner (on the
io loop). Before a worker reports a task's result, the borrows that task made
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
        calls = []
        address = self._ctx.address
        for owner, added, removed in pending.values():
            stub = self._connections.worker(owner)
            calls.append(stub.UpdateBorrows(cw.UpdateBorrowsRequest(borrower=address, added=added, removed=removed),
                                            timeout=RPC_TIMEOUT))
        for c in calls:
            try:
                await c
            except grpc.aio.AioRpcError:
                pass  # the owner is gone: nothing to keep alive there

    async def flush(self) -> None:
        """Wait until borrow registrations made so far reached their owners (on the loop)."""
        while self._flush is not None:
            await self._flush
