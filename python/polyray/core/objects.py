"""The CoreWorker's objects: encoding values, putting, getting and waiting.

A mixin of :class:`~polyray.core.core_worker.CoreWorker`. Small values live
inline in the memory store; values larger than INLINE_MAX go through the
node's shared store, pinned by the raylet. Gets of objects owned elsewhere
fetch them from their owner (and pull store copies from other nodes).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import Any, Optional

import grpc

from polyray import exceptions as exc
from polyray.core import errors
from polyray.core.memory_store import Entry
from polyray.core.object_ref import ObjectRef
from polyray.core.rpc import RPC_TIMEOUT, address_str
from polyray.core.task_executor import current_task
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import core_worker_pb2_grpc as cw_grpc
from polyray.protocol import envelope
from polyray.protocol import raylet_pb2 as rl
from polyray.protocol.ids import ObjectID, TaskID

# Values up to this size travel inside messages; larger ones go through the store.
INLINE_MAX = 100 * 1024
# How long a put waits for room in a full store (frees in flight) before failing.
STORE_FULL_WAIT_S = 10.0


class ObjectsMixin:
    """Values, puts, gets and waits of a CoreWorker (see module docstring)."""

    def encode(self, value: Any, target: int, path: str = "value") -> "envelope.Encoded":
        return envelope.encode(value, target, self.hooks, path=path)

    def decode_entry(self, oid: bytes, entry: Entry, timeout: Optional[float] = None) -> Any:
        """The value of a ready object (raises its error)."""
        if entry.error is not None:
            raise errors.exception_from_record(entry.error)
        if entry.envelope is not None:
            env = entry.envelope
            if env.format == pb.FORMAT_ERROR:
                raise errors.exception_from_record(pb.ErrorRecord.FromString(env.body))
            return envelope.decode_proto(env, self.hooks)
        return self._read_from_store(oid, entry.in_store_node, timeout)

    def _read_from_store(self, oid: bytes, node_id: bytes, timeout: Optional[float]) -> Any:
        from polyray.store import StoreTimeoutError
        view = None
        if node_id and node_id != self.node_id:
            try:
                view = self.store.get_one(oid, timeout=0)  # pulled here before
            except StoreTimeoutError:
                self._pull(oid, node_id, timeout)
        if view is None:
            try:
                view = self.store.get_one(oid, timeout=10.0 if timeout is None else max(timeout, 0.001))
            except StoreTimeoutError:
                raise exc.ObjectLostError(f"object {oid.hex()} is not in this node's store (freed or evicted)") from None
        fmt, body, buffers = envelope.unpack_from(view.metadata, view.data)
        if fmt == pb.FORMAT_ERROR:
            raise errors.exception_from_record(pb.ErrorRecord.FromString(bytes(body)))
        return envelope.decode(fmt, body, buffers, self.hooks)

    def _pull(self, oid: bytes, primary: bytes, timeout: Optional[float]) -> None:
        """Copy a remote object into this node's store (blocking; user threads only)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError(f"object {oid.hex()} must be pulled from another node, which cannot be "
                               "done on the CoreWorker's io thread")
        locations = self.locations_of(oid, primary)
        try:
            self.run(self.puller.pull(oid, locations, self._owners.get(oid)), timeout)
        except concurrent.futures.TimeoutError:
            raise exc.GetTimeoutError(f"get() timed out after {timeout} s while pulling object {oid.hex()} "
                                      f"from node {primary.hex()[:12]}") from None

    def locations_of(self, oid: bytes, primary: bytes) -> list[bytes]:
        """Every node known to hold ``oid``: the primary copy's first."""
        out = [primary] if primary else []
        out += [n for n in self._locations.get(oid, ()) if n != primary]
        return out

    def add_location(self, oid: bytes, node_id: bytes) -> None:
        """Record a copy of ``oid`` on ``node_id`` (owned objects only: they are freed there too)."""
        if not self.references.is_owned(oid):
            return
        nodes = self._locations.setdefault(oid, [])
        if node_id not in nodes:
            nodes.append(node_id)

    def put_in_store(self, oid: bytes, enc: "envelope.Encoded", owner: pb.Address) -> None:
        """Write an encoded value into the node's store and have the raylet pin it."""
        meta = envelope.store_metadata(enc)
        size = envelope.store_data_size(enc)
        builder = self._create_with_retry(oid, size, len(meta))
        try:
            envelope.pack_into(enc, builder.data)
            builder.metadata[:] = meta
            builder.seal()
        except BaseException:
            try:
                builder.abort()
            except Exception:
                pass
            raise
        # A sealed object nobody pins may be evicted: hold a pin until the
        # raylet has pinned the primary copy.
        view = self.store.get_one(oid, timeout=0)
        try:
            self.rpc(lambda: self.raylet.PinObjects(rl.PinObjectsRequest(object_ids=[oid], owner=owner),
                                                    timeout=RPC_TIMEOUT), timeout=RPC_TIMEOUT + 5)
        finally:
            view.release()

    def _create_with_retry(self, oid: bytes, size: int, meta_size: int):
        """Create a store object; when the store is full, let frees already
        decided (dropped refs) land and retry for a while before giving up."""
        from polyray.store import StoreFullError
        deadline = time.monotonic() + STORE_FULL_WAIT_S
        delay = 0.01
        while True:
            try:
                return self.store.create_object(oid, size, meta_size)
            except StoreFullError as e:
                if time.monotonic() >= deadline:
                    raise exc.ObjectStoreFullError(
                        f"the shared store of node {self.node_id.hex()[:12]} has no room for {size} bytes "
                        f"after waiting {STORE_FULL_WAIT_S:.0f} s for objects to be freed: {e}") from None
                try:
                    self.run(self._flush_free(), timeout=RPC_TIMEOUT)
                except Exception:
                    pass
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def next_put_id(self) -> bytes:
        ctx = self.current_context()
        with self._put_lock:
            ctx.put_index += 1
            n = ctx.put_index
        return ObjectID.for_put(TaskID.from_binary(ctx.task_id), n).binary()

    def put(self, value: Any, *, target: int = pb.PYTHON, _path: str = "value") -> ObjectRef:
        """Store a value owned by this process; returns its ObjectRef."""
        if isinstance(value, ObjectRef):
            raise TypeError("polyray.put() of an ObjectRef is not allowed; pass the ObjectRef itself")
        oid = self.next_put_id()
        enc = self.encode(value, target, _path)
        nested = [r.object_id for r in enc.nested_refs]
        self.references.add_owned(oid)
        ref = ObjectRef(oid, None)
        if enc.size > INLINE_MAX:
            self.put_in_store(oid, enc, self.address)
            self.references.set_in_store(oid, self.node_id)
            self.memory_store.set(oid, in_store_node=self.node_id, size=enc.size)
        else:
            self.memory_store.set(oid, envelope=enc.to_proto(), size=enc.size, nested=self._hold_nested(enc.nested_refs))
        self.references.set_contains(oid, nested)
        return ref

    # -- getting ----------------------------------------------------------------
    def get(self, refs: list[ObjectRef], timeout: Optional[float]) -> list[Any]:
        """Block until every ref has a value (or error); raise GetTimeoutError after timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        ready_entry = self.memory_store.get_if_ready
        missing = [r for r in refs if ready_entry(r._id) is None]
        if missing:
            for r in missing:
                if r._owner is not None:
                    self.call_soon(self._start_fetch, r)
            want = list(dict.fromkeys(r._id for r in missing))
            blocked = not self.is_driver and current_task.get() is not None and not self.actor_id
            if blocked:
                # Lend this task's CPUs to the node while it waits, so the
                # tasks it waits for can run (nested tasks deeper than CPUs).
                self.call_soon(self._notify_blocked, True)
            try:
                ready = self.memory_store.wait_indices(want, len(want), timeout)
            finally:
                if blocked:
                    self.call_soon(self._notify_blocked, False)
            if len(ready) < len(want):
                got = {want[i] for i in ready}
                raise exc.GetTimeoutError(
                    f"get() timed out after {timeout} s: {len(want) - len(ready)} of {len({r._id for r in refs})} "
                    f"object(s) not ready (first: {next(o for o in want if o not in got).hex()})")
        values = []
        for r in refs:
            oid = r._id
            entry = ready_entry(oid)
            if entry is None:  # freed concurrently
                raise exc.ObjectLostError(f"object {oid.hex()} was freed while being read")
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            values.append(self.decode_entry(oid, entry, left))
        return values

    def _notify_blocked(self, blocked: bool) -> None:
        previous = getattr(self, "_blocked_call", None)

        async def go() -> None:
            if previous is not None:
                await asyncio.wait([previous])  # keep blocked/unblocked in order
            try:
                await self.raylet.NotifyWorkerBlocked(
                    rl.NotifyWorkerBlockedRequest(worker_id=self.worker_id, blocked=blocked), timeout=RPC_TIMEOUT)
            except grpc.aio.AioRpcError:
                pass
        self._blocked_call = asyncio.ensure_future(go())

    def _start_fetch(self, ref: ObjectRef) -> None:
        oid = ref.binary()
        if self.memory_store.contains(oid) and self.memory_store.get_if_ready(oid) is not None:
            return
        fetching = getattr(self, "_fetching", None)
        if fetching is None:
            fetching = self._fetching = set()
        if oid in fetching:
            return
        fetching.add(oid)
        asyncio.ensure_future(self._fetch(ref, fetching))

    async def _fetch(self, ref: ObjectRef, fetching: set) -> None:
        oid = ref.binary()
        owner = ref.owner_address()
        stub = cw_grpc.CoreWorkerServiceStub(self.channel_to(owner))
        try:
            while not self.shutting_down:
                try:
                    reply = await stub.GetObject(cw.GetObjectRequest(object_id=oid, timeout_ms=30_000), timeout=40)
                except grpc.aio.AioRpcError as e:
                    self.memory_store.set(oid, error=errors.system_record(
                        pb.OBJECT_LOST, f"the owner of object {oid.hex()} at {address_str(owner)} is unreachable "
                                        f"({e.code().name}); the object is lost"))
                    return
                if reply.timed_out:
                    continue
                if reply.HasField("failure") and not reply.found:
                    self.memory_store.set(oid, error=reply.failure)
                    return
                obj = reply.object
                if obj.HasField("value"):
                    self.memory_store.set(oid, envelope=obj.value, size=obj.size)
                else:
                    self._owners[oid] = owner
                    self._locations[oid] = list(reply.locations)
                    self.memory_store.set(oid, in_store_node=obj.in_store_node, size=obj.size)
                return
        finally:
            fetching.discard(oid)

    def get_future(self, ref: ObjectRef) -> concurrent.futures.Future:
        """A future resolved with the ref's value (or its error)."""
        fut: concurrent.futures.Future = concurrent.futures.Future()
        oid = ref.binary()

        def decode(entry: Entry) -> None:
            try:
                fut.set_result(self.decode_entry(oid, entry))
            except BaseException as e:  # noqa: BLE001
                fut.set_exception(e)

        def done(entry: Entry) -> None:
            remote = entry.in_store_node and entry.in_store_node != self.node_id and entry.error is None \
                and entry.envelope is None
            if not remote:
                decode(entry)
                return

            async def pull_then_decode() -> None:
                try:
                    await self.puller.pull(oid, self.locations_of(oid, entry.in_store_node), self._owners.get(oid))
                except BaseException as e:  # noqa: BLE001
                    fut.set_exception(e)
                    return
                await asyncio.to_thread(decode, entry)

            self.call_soon(lambda: asyncio.ensure_future(pull_then_decode()))

        if ref.owner_address() is not None:
            self.call_soon(self._start_fetch, ref)
        # Keep the ref alive until the future resolves.
        fut._polyray_ref = ref  # type: ignore[attr-defined]
        self.memory_store.on_ready(oid, done)
        return fut

    def wait(self, refs: list[ObjectRef], num_returns: int, timeout: Optional[float]) -> list[ObjectRef]:
        """The first num_returns refs (in list order) whose values are ready; fewer when the timeout passes."""
        for r in refs:
            if r._owner is not None:
                self.call_soon(self._start_fetch, r)
        ready = self.memory_store.wait_indices([r._id for r in refs], num_returns, timeout)
        return [refs[i] for i in ready]
