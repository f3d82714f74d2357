"""The objects this process owns: puts, task returns, their copies and frees.

The owner of an object is the process that created its ObjectRef (by a put
or by submitting the task that returns it). OwnedObjects writes put values
(inline into the memory store, or into the node's shared store pinned by the
raylet), records task results and failures reported by the submitters (it is
their TaskFinisher), remembers which nodes hold copies, and carries out the
frees the ReferenceCounter decides: the value leaves the memory store and
batched FreeObjects go to every node holding a copy. For each normal task
whose return lives in a store it keeps the task's lineage (LineageTable), so
ObjectRecovery can recompute the object when its copies are lost.

Invariants: an owned object is completed exactly once (value, store location
or error; first writer wins); a value larger than the inline limit never
travels inline; a stored copy stays pinned by this process until the raylet
has answered its pin (StorePins: a put does not wait for that answer, a
task's stored returns do, before their result is sent); every copy recorded
here is freed when the object is.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Iterable
from typing import Any

import grpc

from polyray import exceptions as exc
from polyray.core.connections import Connections
from polyray.core.io_loop import IoLoop
from polyray.core.lineage import LineageTable, max_bytes_from_env
from polyray.core.memory_store import MemoryStore
from polyray.core.node_directory import NodeDirectory
from polyray.core.node_store import NodeStore
from polyray.core.object_ref import ObjectRef
from polyray.core.reference_counter import ReferenceCounter
from polyray.core.rpc import RPC_TIMEOUT
from polyray.core.store_pins import StorePins
from polyray.core.submit_policy import travels_inline
from polyray.core.value_codec import ValueCodec
from polyray.core.worker_context import WorkerContext
from polyray.protocol import common_pb2 as pb
from polyray.protocol import envelope
from polyray.protocol import raylet_pb2 as rl

# How long a put waits for room in a full store (frees in flight) before failing.
STORE_FULL_WAIT_S = 10.0
# How long frees are gathered before they are sent (one FreeObjects per node).
FREE_BATCH_S = 0.01


def return_id(task_id: bytes, index: int) -> bytes:
    """The object id of a task's ``index``-th return (1-based): task id + index, little-endian."""
    return task_id + index.to_bytes(4, "little")


class OwnedObjects:
    """Puts, results, copies and frees of the objects this process owns."""

    def __init__(self, *, ctx: WorkerContext, io: IoLoop, connections: Connections, references: ReferenceCounter,
                 memory_store: MemoryStore, codec: ValueCodec, node_store: NodeStore,
                 nodes: NodeDirectory, lineage_max_bytes: int | None = None) -> None:
        self._ctx = ctx
        self._io = io
        self._connections = connections
        self._references = references
        # The raylet's pins of stored objects, batched, at most max_pins_in_flight
        # calls open (docs/ownership.md, "Fan-out").
        self.pins = StorePins(call_soon=io.call_soon, pin=self._pin_call)
        self._memory_store = memory_store
        self._codec = codec
        self._node_store = node_store
        self._nodes = nodes
        # Nodes holding copies of owned objects beyond the primary copy the
        # memory store names (from AddObjectLocation).
        self._locations: dict[bytes, list[bytes]] = {}
        self._pending_free: list[tuple[bytes, bytes]] = []
        self._free_scheduled = False
        # The specs that can recompute stored returns; their arguments stay
        # "submitted" while kept (lineage.py).
        self.lineage = LineageTable(max_bytes_from_env(lineage_max_bytes), references.remove_submitted)
        # Set by the CoreWorker (object_recovery.py): told when a task finishes.
        self.recovery: Any = None

    # -- puts ---------------------------------------------------------------------
    def put(self, value: Any, *, target: int = pb.PYTHON, path: str = "value") -> ObjectRef:
        """Store a value owned by this process; returns its ObjectRef."""
        if isinstance(value, ObjectRef):
            raise TypeError("polyray.put() of an ObjectRef is not allowed; pass the ObjectRef itself")
        enc = self._codec.encode(value, target, path)
        return self.put_encoded(enc)

    def put_encoded(self, enc: envelope.Encoded) -> ObjectRef:
        """Store an encoded value under a fresh put id; returns its ObjectRef."""
        oid = self._ctx.next_put_id()
        nested = [r.object_id for r in enc.nested_refs]
        self._references.add_owned(oid)
        ref = ObjectRef(oid, None)
        if travels_inline(enc.size):
            self._memory_store.set(oid, envelope=enc.to_proto(), size=enc.size,
                                   nested=self._codec.hold_nested(enc.nested_refs))
        else:
            node_id = self._ctx.node_id
            self.put_in_store(oid, enc, self._ctx.address)
            self._references.set_in_store(oid, node_id)
            self._memory_store.set(oid, in_store_node=node_id, size=enc.size)
        self._references.set_contains(oid, nested)
        return ref

    def put_in_store(self, oid: bytes, enc: envelope.Encoded, owner: pb.Address, *,
                     wait: bool = False) -> concurrent.futures.Future | None:
        """Write an encoded value into the node's store and queue the raylet's pin (user threads).

        The object is sealed (readable by every process of the node) when this
        returns; this process pins it until the raylet has. With ``wait``,
        returns a future set once the raylet answered (True: pinned).
        """
        layout = envelope.store_layout(enc)
        meta = layout.metadata
        builder = self._create_with_retry(oid, layout.data_size, len(meta))
        try:
            layout.write(builder.data)
            builder.metadata[:] = meta
            builder.seal()
        except BaseException:
            try:
                builder.abort()
            except Exception:  # noqa: BLE001 - the original error is the one to raise
                pass
            raise
        # A sealed object nobody pins may be evicted: hold a pin until the
        # raylet has pinned the primary copy.
        view = self._node_store.store.get_one(oid, timeout=0)
        return self.pins.add(oid, view, owner, want_done=wait)

    def pin_existing(self, oid: bytes, owner: pb.Address) -> concurrent.futures.Future | None:
        """A sealed copy of ``oid`` already in the node's store (an earlier attempt of the task
        wrote it: a retried generator's item) is the value: pin it as :meth:`put_in_store` does."""
        view = self._node_store.store.get_one(oid, timeout=0)
        return self.pins.add(oid, view, owner, want_done=True)

    def _pin_call(self, ids: list[bytes], owner: pb.Address) -> Any:
        return self._connections.raylet.PinObjects(
            rl.PinObjectsRequest(object_ids=ids, owner=owner), timeout=RPC_TIMEOUT)

    def _create_with_retry(self, oid: bytes, size: int, meta_size: int) -> Any:
        """Create a store object; when the store is full, let frees already
        decided (dropped refs) land and retry for a while before giving up."""
        from polyray.store import StoreFullError
        deadline = time.monotonic() + STORE_FULL_WAIT_S
        delay = 0.01
        while True:
            try:
                return self._node_store.store.create_object(oid, size, meta_size)
            except StoreFullError as e:
                if time.monotonic() >= deadline:
                    raise exc.ObjectStoreFullError(
                        f"the shared store of node {self._ctx.node_id.hex()[:12]} has no room for {size} bytes "
                        f"after waiting {STORE_FULL_WAIT_S:.0f} s for objects to be freed: {e}") from None
                try:
                    self._io.run(self.flush_free(), timeout=RPC_TIMEOUT)
                except Exception:  # noqa: BLE001 - best effort; the create is retried anyway
                    pass
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    # -- task results (the submitters' TaskFinisher) ---------------------------------
    def complete(self, spec: pb.TaskSpec, returns: Iterable[pb.ReturnObject], arg_ids: list[bytes]) -> None:
        """Record a task's results (on the loop)."""
        refs = self._references
        stored: list[bytes] = []
        for r in returns:
            if not refs.is_owned(r.object_id):
                # Every reference to this return is already gone: drop it.
                if r.HasField("in_store_node") and r.in_store_node:
                    self.queue_free(r.object_id, [r.in_store_node])
                if r.nested_refs:
                    refs.ack_returned(list(r.nested_refs), self._ctx.worker_id, r.lender)
                continue
            if r.HasField("value"):
                self._memory_store.set(r.object_id, envelope=r.value, size=r.size,
                                       nested=self._codec.hold_nested(r.nested_refs))
            else:
                refs.set_in_store(r.object_id, r.in_store_node)
                self._memory_store.set(r.object_id, in_store_node=r.in_store_node, size=r.size,
                                       nested=self._codec.hold_nested(r.nested_refs))
                stored.append(r.object_id)
            if r.nested_refs:
                # Our own holds are taken (and their adds decided): release the lends (reference protocol).
                refs.ack_returned(list(r.nested_refs), self._ctx.worker_id, r.lender)
        if self.recovery is not None:
            self.recovery.on_finished(spec, None)
        if stored and spec.type == pb.NORMAL_TASK and self.lineage.max_bytes > 0:
            # Keep the lineage (it takes over the arguments' pins).
            self.lineage.record(spec, list(arg_ids), stored)
        elif arg_ids:
            refs.remove_submitted(arg_ids)

    def record_return(self, r: pb.ReturnObject) -> None:
        """Record one return object owned here (a generator task's item, on the loop)."""
        refs = self._references
        if r.HasField("value"):
            self._memory_store.set(r.object_id, envelope=r.value, size=r.size,
                                   nested=self._codec.hold_nested(r.nested_refs))
        else:
            refs.set_in_store(r.object_id, r.in_store_node)
            self._memory_store.set(r.object_id, in_store_node=r.in_store_node, size=r.size,
                                   nested=self._codec.hold_nested(r.nested_refs))
        if r.nested_refs:
            refs.ack_returned(list(r.nested_refs), self._ctx.worker_id, r.lender)

    def discard_returns(self, returns: Iterable[pb.ReturnObject]) -> None:
        """Returns nobody will read (a sync actor call cancelled while it ran fails with
        TaskCancelledError, as Ray): free their store copies, release what they lend (on the loop)."""
        for r in returns:
            if r.HasField("in_store_node") and r.in_store_node:
                self.queue_free(r.object_id, [r.in_store_node])
            if r.nested_refs:
                self._references.ack_returned(list(r.nested_refs), self._ctx.worker_id, r.lender)

    def fail(self, spec: pb.TaskSpec, record: pb.ErrorRecord, arg_ids: list[bytes]) -> None:
        """Complete every return of a task with an error."""
        tid = spec.task_id
        if self.recovery is not None:
            record = self.recovery.on_finished(spec, record) or record
        for i in range(1, spec.num_returns + 1):
            oid = return_id(tid, i)
            if self._references.is_owned(oid):
                self._memory_store.set(oid, error=record)
        self._references.remove_submitted(arg_ids)

    def retry(self, spec: pb.TaskSpec, why: str) -> None:
        """A task is submitted again: nothing to record yet (task events will)."""

    def hold_args(self, arg_ids: list[bytes]) -> None:
        """Count a task's arguments once more (its executor died: TaskFinisher.ARGS_GRACE_S)."""
        self._references.add_submitted(arg_ids)

    def release_args(self, arg_ids: list[bytes]) -> None:
        self._references.remove_submitted(arg_ids)

    def is_owned(self, oid: bytes) -> bool:
        """Whether this process owns ``oid`` (and it is not freed)."""
        return self._references.is_owned(oid)

    # -- copies ---------------------------------------------------------------------
    def add_location(self, oid: bytes, node_id: bytes) -> None:
        """Record a copy of ``oid`` on ``node_id`` (owned objects only: they are freed there too)."""
        if not self._references.is_owned(oid):
            return
        nodes = self._locations.setdefault(oid, [])
        if node_id not in nodes:
            nodes.append(node_id)

    def extra_locations(self, oid: bytes) -> list[bytes]:
        """Nodes known to hold copies of an owned object besides its primary copy."""
        return self._locations.get(oid, [])

    def locations_of(self, oid: bytes, primary: bytes) -> list[bytes]:
        """Every node known to hold ``oid``: the primary copy's first."""
        out = [primary] if primary else []
        out += [n for n in self._locations.get(oid, ()) if n != primary]
        return out

    # -- frees ------------------------------------------------------------------------
    def on_free(self, oid: bytes, in_store_node: bytes) -> None:
        """The ReferenceCounter freed an owned object (any thread): drop it everywhere."""
        self._memory_store.delete(oid)
        self.lineage.on_free(oid)
        if not in_store_node and oid not in self._locations:
            return  # an inline value: nothing to free in any store
        nodes = self.locations_of(oid, in_store_node)
        self._locations.pop(oid, None)
        if nodes and not self._ctx.shutting_down:
            self._io.call_soon(self._free_stored, oid, nodes)

    def _free_stored(self, oid: bytes, nodes: list[bytes]) -> None:
        self.pins.forget(oid)  # a pin not sent yet never will be
        self.queue_free(oid, nodes)

    def queue_free(self, oid: bytes, nodes: Iterable[bytes] = ()) -> None:
        """Free ``oid``'s copies on ``nodes`` soon, batched per node (on the loop)."""
        for node in nodes or (self._ctx.node_id,):
            self._pending_free.append((oid, node))
        if self._pending_free and not self._free_scheduled:
            self._free_scheduled = True
            self._io.loop.call_later(FREE_BATCH_S, lambda: asyncio.ensure_future(self.flush_free()))

    async def flush_free(self) -> None:
        """Send the queued frees to the raylets of the nodes holding the copies."""
        self._free_scheduled = False
        pending, self._pending_free = self._pending_free, []
        if not pending or self._ctx.shutting_down:
            return
        by_node: dict[bytes, list[bytes]] = {}
        for oid, node in pending:
            by_node.setdefault(node, []).append(oid)
        for node, ids in by_node.items():
            if node == self._ctx.node_id:
                stub = self._connections.raylet
            else:
                address, _ = await self._nodes.raylet(node)
                if address is None:
                    continue  # the node is gone, and its copies with it
                stub = self._connections.raylet_at(address)
            try:
                await stub.FreeObjects(rl.FreeObjectsRequest(object_ids=ids), timeout=RPC_TIMEOUT)
            except grpc.aio.AioRpcError:
                pass
