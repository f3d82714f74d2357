"""Pulling objects held in another node's store into this node's store.

A process that needs an object whose copies are on other nodes streams it
from one of their raylets (``ReadObject``: a server stream of chunks, which
gRPC's flow control keeps several deep in flight) straight into an object
created in the local store, and seals it. The copy is not pinned: it is a
secondary copy the store may evict under pressure (the owner's primary copy
stays pinned where it was made). Afterwards the owner records the new
location (``AddObjectLocation``), so later readers and the final free find it.

Concurrent pulls of one object are merged: within a process by one shared
future, across the processes of a node by the store itself (whoever creates
the object first fills it; the others wait until it is sealed).

If no location answers with the object, the object is lost (ObjectLostError
naming each location and why it failed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

import grpc

from polyray import exceptions as exc
from polyray.core.connections import Connections
from polyray.core.node_directory import NodeDirectory
from polyray.core.node_store import NodeStore
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import raylet_pb2 as rl
from polyray.protocol import runtime_spec as spec

#: Bytes per ReadObject chunk (the raylet caps it just under 4 MiB).
CHUNK_SIZE = 4 * 1024 * 1024 - 64 * 1024
#: Deadline of one ReadObject stream (a 2 GiB object at 20 MB/s fits).
PULL_TIMEOUT_S = 120.0
#: How long a raylet waits for an object to be sealed before answering NOT_FOUND.
READ_WAIT_MS = 2000
#: ReadObject streams open at once per node that serves them (docs/ownership.md, "Fan-out").
MAX_PULLS_PER_NODE = spec.FANOUT_MAX_PULLS_IN_FLIGHT_PER_NODE
#: Slice of waiting for a copy another process of this node is writing.
_WAIT_SLICE_S = 1.0


class _Restart(Exception):
    """The process that was filling the local copy went away: pull again."""


class ObjectPuller:
    """Pulls remote objects into the local store; one pull per object at a time."""

    def __init__(self, *, node_store: NodeStore, connections: Connections, nodes: NodeDirectory,
                 node_id: bytes, worker_id: bytes, add_location: Callable[[bytes, bytes], None]) -> None:
        self._node_store = node_store
        self._connections = connections
        self.nodes = nodes
        self._node_id = node_id
        self._worker_id = worker_id
        # Records a copy of an object this process owns (OwnedObjects.add_location).
        self._add_location = add_location
        self._inflight: dict[bytes, asyncio.Future] = {}
        # ReadObject streams open per serving node, at most MAX_PULLS_PER_NODE.
        self._slots: dict[bytes, asyncio.Semaphore] = {}
        #: Bytes and seconds of completed pulls, for benchmarks and tests.
        self.pulled_bytes = 0
        self.pulled_seconds = 0.0

    async def pull(self, oid: bytes, locations: Iterable[bytes], owner: pb.Address | None) -> None:
        """Make ``oid`` sealed in the local store, copying it from one of
        ``locations`` (node ids); raises ObjectLostError if none has it."""
        fut = self._inflight.get(oid)
        if fut is None:
            fut = asyncio.ensure_future(self._pull(oid, list(dict.fromkeys(locations)), owner))
            self._inflight[oid] = fut
            fut.add_done_callback(lambda _f: self._inflight.pop(oid, None))
        await asyncio.shield(fut)

    async def _pull(self, oid: bytes, locations: list[bytes], owner: pb.Address | None) -> None:
        if self._node_store.store.contains(oid):
            return
        failures: list[str] = []
        for node_id in locations:
            if node_id == self._node_id:
                failures.append(f"node {node_id.hex()[:12]} (this node) no longer holds it")
                continue
            address, why = await self.nodes.raylet(node_id)
            if address is None:
                failures.append(why)
                continue
            for _ in range(3):
                try:
                    async with self._node_slots(node_id):
                        await self._stream(oid, address)
                except _Restart:
                    continue
                except grpc.aio.AioRpcError as e:
                    if e.code() != grpc.StatusCode.NOT_FOUND:
                        self.nodes.forget(node_id)
                    failures.append(f"node {node_id.hex()[:12]} at {address.host}:{address.port}: "
                                    f"{e.code().name} {e.details()}")
                    break
                self._record(oid, owner)
                return
            else:
                failures.append(f"node {node_id.hex()[:12]}: the local copy was abandoned three times")
        where = "; ".join(failures) or "no node holds a copy"
        raise exc.ObjectLostError(f"object {oid.hex()} is lost: no node could provide it ({where})")

    def _node_slots(self, node_id: bytes) -> asyncio.Semaphore:
        slots = self._slots.get(node_id)
        if slots is None:
            slots = self._slots[node_id] = asyncio.Semaphore(MAX_PULLS_PER_NODE)
        return slots

    async def _stream(self, oid: bytes, address: pb.Address) -> int:
        """Copy the object from the raylet at ``address`` into the local store; its size."""
        from polyray.store import ObjectExistsError, StoreFullError

        stub = self._connections.raylet_at(address)
        started = time.monotonic()
        call = stub.ReadObject(rl.ReadObjectRequest(object_id=oid, chunk_size=CHUNK_SIZE, timeout_ms=READ_WAIT_MS),
                               timeout=PULL_TIMEOUT_S)
        builder = None
        data_size = 0
        try:
            async for chunk in call:
                if builder is None:
                    data_size = chunk.total_size
                    try:
                        builder = self._node_store.store.create_object(oid, chunk.total_size, chunk.metadata_size)
                    except ObjectExistsError:
                        call.cancel()
                        await self._wait_other_writer(oid)
                        return 0
                    except StoreFullError as e:
                        call.cancel()
                        raise exc.ObjectStoreFullError(
                            f"no room in the store of node {self._node_id.hex()[:12]} for object {oid.hex()} "
                            f"({chunk.total_size + chunk.metadata_size} bytes) pulled from node "
                            f"{address.node_id.hex()[:12]}: {e}") from None
                off, piece = chunk.offset, chunk.data
                if off < data_size:
                    builder.data[off:off + len(piece)] = piece
                else:
                    builder.metadata[off - data_size:off - data_size + len(piece)] = piece
            if builder is None:
                raise exc.ObjectLostError(f"the raylet at {address.host}:{address.port} sent no chunk of "
                                          f"object {oid.hex()}")
            total = data_size + len(builder.metadata)
            builder.seal()
            builder = None
        finally:
            if builder is not None:
                try:
                    builder.abort()
                except Exception:  # noqa: BLE001 - best effort: the raylet reclaims it otherwise
                    pass
        self.pulled_bytes += total
        self.pulled_seconds += time.monotonic() - started
        return total

    async def _wait_other_writer(self, oid: bytes) -> None:
        """Another process of this node is writing the copy: wait until it is sealed.
        Raises _Restart if that process gave up (the object is gone again)."""
        from polyray.store import ObjectExistsError, StoreTimeoutError

        store = self._node_store.store
        deadline = time.monotonic() + PULL_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                view = await asyncio.to_thread(store.get_one, oid, _WAIT_SLICE_S)
            except StoreTimeoutError:
                try:
                    probe = store.create_object(oid, 0, 0)
                except ObjectExistsError:
                    continue  # still being written
                probe.abort()
                raise _Restart() from None
            view.release()
            return
        raise exc.ObjectLostError(f"object {oid.hex()} was being copied into this node's store by another "
                                  f"process, which did not finish within {PULL_TIMEOUT_S:.0f} s")

    def _record(self, oid: bytes, owner: pb.Address | None) -> None:
        """Tell the owner that this node now holds a copy."""
        if owner is None or owner.worker_id == self._worker_id:
            self._add_location(oid, self._node_id)
            return
        stub = self._connections.worker(owner)
        node_id = self._node_id

        async def tell() -> None:
            try:
                await stub.AddObjectLocation(cw.AddObjectLocationRequest(object_id=oid, node_id=node_id),
                                             timeout=10)
            except grpc.aio.AioRpcError:
                pass  # the owner is gone; nothing to record

        asyncio.ensure_future(tell())
