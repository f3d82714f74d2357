"""The CoreWorker's side of ownership: refs from the wire, frees, borrows.

A mixin of :class:`~polyray.core.core_worker.CoreWorker`. The
ReferenceCounter decides *when* an owned object is freed or a borrow
registered or returned; this part carries those decisions out: it drops the
value from the memory store, batches frees to the raylets holding copies,
and batches borrow updates to the owners (all on the event loop).
"""

from __future__ import annotations

import asyncio
from typing import Iterable

import grpc

from polyray.core.object_ref import ObjectRef
from polyray.core.rpc import RPC_TIMEOUT
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import core_worker_pb2_grpc as cw_grpc
from polyray.protocol import raylet_pb2 as rl

# How long frees are gathered before they are sent (one FreeObjects per node).
FREE_BATCH_S = 0.01


class OwnershipMixin:
    """Frees and borrow registrations of a CoreWorker (see module docstring)."""

    def ref_from_proto(self, msg: pb.ObjectRef) -> ObjectRef:
        owner = msg.owner
        if owner.worker_id == self.worker_id:
            return ObjectRef(msg.object_id, None)
        return ObjectRef(msg.object_id, owner)

    def _hold_nested(self, refs: list) -> list:
        # Keep references nested in a value alive while the value is here.
        if not refs:
            return []
        return [self.ref_from_proto(r) for r in refs]

    def _on_free(self, oid: bytes, in_store_node: bytes) -> None:
        self.memory_store.delete(oid)
        if not in_store_node and oid not in self._locations:
            return  # an inline value: nothing to free in any store
        nodes = self.locations_of(oid, in_store_node)
        self._locations.pop(oid, None)
        if nodes and not self.shutting_down:
            self.call_soon(self._queue_free, oid, nodes)

    def _queue_free(self, oid: bytes, nodes: Iterable[bytes] = ()) -> None:
        for node in nodes or (self.node_id,):
            self._pending_free.append((oid, node))
        if self._pending_free and not getattr(self, "_free_scheduled", False):
            self._free_scheduled = True
            self._loop.call_later(FREE_BATCH_S, lambda: asyncio.ensure_future(self._flush_free()))

    async def _flush_free(self) -> None:
        """Send the queued frees to the raylets of the nodes holding the copies."""
        self._free_scheduled = False
        pending, self._pending_free = self._pending_free, []
        if not pending or self.shutting_down:
            return
        by_node: dict[bytes, list[bytes]] = {}
        for oid, node in pending:
            by_node.setdefault(node, []).append(oid)
        for node, ids in by_node.items():
            if node == self.node_id:
                stub = self.raylet
            else:
                address, _ = await self.puller.nodes.raylet(node)
                if address is None:
                    continue  # the node is gone, and its copies with it
                stub = self.raylet_at(address)
            try:
                await stub.FreeObjects(rl.FreeObjectsRequest(object_ids=ids), timeout=RPC_TIMEOUT)
            except grpc.aio.AioRpcError:
                pass

    def _on_borrow_change(self, owner: pb.Address, added: list, removed: list) -> None:
        if self.shutting_down:
            return
        # Read by the push port before it sends a result (push_port.py).
        self.borrows_changed = True
        self.call_soon(self._queue_borrow, owner, added, removed)

    def _queue_borrow(self, owner: pb.Address, added: list, removed: list) -> None:
        key = owner.worker_id
        entry = self._pending_borrows.get(key)
        if entry is None:
            entry = self._pending_borrows[key] = (owner, [], [])
        entry[1].extend(added)
        entry[2].extend(removed)
        if self._borrow_flush is None:
            self._borrow_flush = asyncio.ensure_future(self._flush_borrows())

    async def _flush_borrows(self) -> None:
        await asyncio.sleep(0)
        pending, self._pending_borrows = self._pending_borrows, {}
        self._borrow_flush = None
        calls = []
        for owner, added, removed in pending.values():
            stub = cw_grpc.CoreWorkerServiceStub(self.channel_to(owner))
            calls.append(stub.UpdateBorrows(cw.UpdateBorrowsRequest(borrower=self.address, added=added, removed=removed),
                                            timeout=RPC_TIMEOUT))
        for c in calls:
            try:
                await c
            except grpc.aio.AioRpcError:
                pass  # the owner is gone: nothing to keep alive there

    async def flush_borrows(self) -> None:
        """Wait until borrow registrations made so far reached their owners."""
        while self._borrow_flush is not None:
            await self._borrow_flush
