"""The CoreWorker: one per driver or worker process.

It owns the process's event loop thread (all gRPC I/O), its CoreWorkerService
server, its clients to the GCS and the local raylet, the in-process memory
store, reference counts, and the submitters and executor. User threads call
its blocking methods; they hand work to the loop and wait on results.

Invariants: an object this process owns is completed exactly once (value,
store location or error); values larger than INLINE_MAX never travel inline
(they go through the node's shared store, pinned by the raylet); every wait
ends, by value, error or timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import os
import sys
import threading
import time
from typing import Any, Callable, Iterable, Optional

import grpc

from polyray import exceptions as exc
from polyray.core import errors
from polyray.core.actor_submitter import ActorTaskSubmitter
from polyray.core.memory_store import Entry, MemoryStore
from polyray.core.object_puller import ObjectPuller
from polyray.core.object_ref import ObjectRef, set_core
from polyray.core.reference_counter import ReferenceCounter
from polyray.core.rpc import RPC_TIMEOUT, SERVER_OPTIONS, aio_channel, address_str
from polyray.core.task_executor import TaskContext, TaskExecutor, current_task
from polyray.core.task_submitter import NormalTaskSubmitter, PendingTask, scheduling_key
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import core_worker_pb2_grpc as cw_grpc
from polyray.protocol import envelope
from polyray.protocol import gcs_pb2 as gcs
from polyray.protocol import gcs_pb2_grpc as gcs_grpc
from polyray.protocol import raylet_pb2 as rl
from polyray.protocol import raylet_pb2_grpc as rl_grpc
from polyray.protocol.ids import ActorID, ObjectID, TaskID

# Values up to this size travel inside messages; larger ones go through the store.
INLINE_MAX = 100 * 1024
# How long a put waits for room in a full store (frees in flight) before failing.
STORE_FULL_WAIT_S = 10.0


class _Hooks(envelope.CodecHooks):
    """Teaches the codec about this process's ObjectRefs and actor handles."""

    def __init__(self, core: "CoreWorker") -> None:
        self._core = core

    def encode_object_ref(self, obj: Any) -> Optional[pb.ObjectRef]:
        if isinstance(obj, ObjectRef):
            return obj.to_proto()
        return None

    def encode_actor_handle(self, obj: Any) -> Optional[pb.ActorHandle]:
        to_proto = getattr(obj, "_polyray_handle_proto", None)
        return to_proto() if to_proto is not None else None

    def decode_object_ref(self, msg: pb.ObjectRef) -> Any:
        return self._core.ref_from_proto(msg)

    def decode_actor_handle(self, msg: pb.ActorHandle) -> Any:
        return self._core.actor_handle_factory(msg)


class CoreWorker:
    """The runtime of one process (see module docstring)."""

    def __init__(self, *, is_driver: bool, gcs_address: str, raylet_address: str, node_id: bytes,
                 store_name: str, job_id: bytes, worker_id: bytes, host: str = "127.0.0.1",
                 startup_token: str = "", namespace: str = "", code_search_path: Iterable[str] = ()) -> None:
        self.is_driver = is_driver
        self.gcs_address = gcs_address
        self.raylet_address = raylet_address
        self.node_id = node_id
        self.store_name = store_name
        self.job_id = job_id
        self.worker_id = worker_id
        self.host = host
        self.namespace = namespace
        self.code_search_path = list(code_search_path)
        self.startup_token = startup_token
        self.address = pb.Address(node_id=node_id, host=host, port=0, worker_id=worker_id)
        self.shutting_down = False
        self.memory_store = MemoryStore()
        self.references = ReferenceCounter(self._on_free, self._on_borrow_change)
        self.hooks = _Hooks(self)
        self.actor_handle_factory: Callable[[pb.ActorHandle], Any] = lambda m: m
        self.executor = TaskExecutor(self)
        self.actor_id = b""
        self._driver_task = TaskContext(TaskID.for_job(_job(job_id)).binary(), None)
        self._put_lock = threading.Lock()
        self._seq_lock = threading.Lock()
        self._actor_seq: dict[bytes, int] = {}
        self._pending_free: list[bytes] = []
        self._pending_borrows: dict[bytes, tuple[pb.Address, list, list]] = {}
        self._borrow_flush: Optional[asyncio.Future] = None
        self._owner_channels: dict[str, grpc.aio.Channel] = {}
        # Nodes holding copies of objects in their stores, beyond the primary
        # copy the memory store names (owned: from AddObjectLocation; borrowed:
        # from the owner's GetObject reply), and the owners of borrowed ones.
        self._locations: dict[bytes, list[bytes]] = {}
        self._owners: dict[bytes, pb.Address] = {}
        self._store = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="polyray-io", daemon=True)
        self._server: Optional[grpc.aio.Server] = None
        self._log_task: Optional[asyncio.Task] = None

    # -- lifecycle --------------------------------------------------------------
    def start(self, subscribe_logs: bool = False) -> None:
        """Start the loop, the server, the clients; register with the raylet."""
        self._thread.start()
        self.run(self._start(subscribe_logs), timeout=RPC_TIMEOUT + 5)
        set_core(self)

    async def _start(self, subscribe_logs: bool) -> None:
        self._server = grpc.aio.server(options=SERVER_OPTIONS)
        from polyray.core.service import CoreWorkerService
        cw_grpc.add_CoreWorkerServiceServicer_to_server(CoreWorkerService(self), self._server)
        port = self._server.add_insecure_port(f"{self.host}:0")
        await self._server.start()
        self.address.port = port
        self._gcs_channel = aio_channel(self.gcs_address)
        self._raylet_channel = aio_channel(self.raylet_address)
        self.gcs = gcs_grpc.GcsServiceStub(self._gcs_channel)
        self.raylet = rl_grpc.RayletServiceStub(self._raylet_channel)
        self.submitter = NormalTaskSubmitter(self)
        self.actor_submitter = ActorTaskSubmitter(self)
        self.puller = ObjectPuller(self)
        try:
            await self.raylet.RegisterWorker(rl.RegisterWorkerRequest(
                worker_id=self.worker_id, language=pb.PYTHON, pid=os.getpid(), port=port,
                job_id=self.job_id, startup_token=self.startup_token, is_driver=self.is_driver),
                timeout=RPC_TIMEOUT)
        except grpc.aio.AioRpcError as e:
            raise ConnectionError(f"cannot register with the raylet at {self.raylet_address}: {e.code().name}: {e.details()}") from None
        if subscribe_logs:
            self._log_task = asyncio.ensure_future(self._print_logs())

    @property
    def store(self):
        """The node's shared store, opened on first use."""
        if self._store is None:
            from polyray.store import Store
            self._store = Store.open(self.store_name)
        return self._store

    def run(self, coro, timeout: Optional[float] = None) -> Any:
        """Run a coroutine on the loop from a user thread and wait for its result."""
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise

    def rpc(self, make_call: Callable[[], Any], timeout: Optional[float] = None) -> Any:
        """Make a gRPC call on the loop (aio calls must be created there) and wait for its reply."""
        async def go() -> Any:
            return await make_call()
        return self.run(go(), timeout)

    def call_soon(self, fn: Callable, *args: Any) -> None:
        """Run fn(*args) on the loop, soon (from any thread)."""
        if threading.current_thread() is self._thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def shutdown(self) -> None:
        """Return leases, stop the server and the loop."""
        if self.shutting_down:
            return
        self.shutting_down = True
        try:
            self.run(self._stop(), timeout=15)
        except Exception:
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        set_core(None)
        if self._store is not None:
            try:
                self._store.close(drop_pins=True)
            except Exception:
                pass
            self._store = None

    async def _stop(self) -> None:
        if self._log_task is not None:
            self._log_task.cancel()
        await self.submitter.close()
        await self.actor_submitter.close()
        if self.is_driver:
            try:
                await self.gcs.MarkJobFinished(gcs.MarkJobFinishedRequest(job_id=self.job_id), timeout=5)
            except grpc.aio.AioRpcError:
                pass
        if self._server is not None:
            await self._server.stop(grace=0.5)
        for ch in [self._gcs_channel, self._raylet_channel, *self._owner_channels.values()]:
            await ch.close(grace=None)
        # Let stream tasks observe their closed channels before the loop stops.
        current = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not current]
        for t in rest:
            t.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    async def _print_logs(self) -> None:
        """Print the job's worker output here, as Ray prints print() in tasks."""
        while not self.shutting_down:
            try:
                call = self.gcs.SubscribeLogs(gcs.SubscribeLogsRequest(job_id=self.job_id))
                async for batch in call:
                    out = sys.stderr if batch.is_error else sys.stdout
                    label = batch.worker_label or f"pid={batch.pid}"
                    for line in batch.lines:
                        out.write(f"({label}) {line}\n")
                    out.flush()
            except asyncio.CancelledError:
                return
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.5)

    # -- task context -----------------------------------------------------------
    def current_context(self) -> TaskContext:
        return current_task.get() or self._driver_task

    def current_task_id(self) -> bytes:
        return self.current_context().task_id

    def set_actor(self, spec: pb.TaskSpec) -> None:
        self.actor_id = spec.actor_id

    # -- values -----------------------------------------------------------------
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

    def _hold_nested(self, refs: list) -> list:
        # Keep references nested in a value alive while the value is here.
        return [self.ref_from_proto(r) for r in refs]

    # -- references -------------------------------------------------------------
    def ref_from_proto(self, msg: pb.ObjectRef) -> ObjectRef:
        owner = msg.owner
        if owner.worker_id == self.worker_id:
            return ObjectRef(msg.object_id, None)
        return ObjectRef(msg.object_id, owner)

    def _on_free(self, oid: bytes, in_store_node: bytes) -> None:
        self.memory_store.delete(oid)
        nodes = self.locations_of(oid, in_store_node)
        self._locations.pop(oid, None)
        if nodes and not self.shutting_down:
            self.call_soon(self._queue_free, oid, nodes)

    def _queue_free(self, oid: bytes, nodes: Iterable[bytes] = ()) -> None:
        for node in nodes or (self.node_id,):
            self._pending_free.append((oid, node))
        if self._pending_free and not getattr(self, "_free_scheduled", False):
            self._free_scheduled = True
            self._loop.call_later(0.01, lambda: asyncio.ensure_future(self._flush_free()))

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

    def raylet_at(self, address: pb.Address) -> rl_grpc.RayletServiceStub:
        """A stub to the raylet at ``address`` (the local one, or another node's)."""
        target = address_str(address)
        if target == self.raylet_address:
            return self.raylet
        stubs = self.__dict__.setdefault("_raylet_stubs", {})
        stub = stubs.get(target)
        if stub is None:
            stub = stubs[target] = rl_grpc.RayletServiceStub(self.channel_to(address))
        return stub

    def channel_to(self, owner: pb.Address) -> grpc.aio.Channel:
        """A cached channel to another process's CoreWorker (owners, leased workers)."""
        target = address_str(owner)
        ch = self._owner_channels.get(target)
        if ch is None:
            ch = self._owner_channels[target] = aio_channel(target)
        return ch

    # -- submitting -------------------------------------------------------------
    def build_args(self, spec: pb.TaskSpec, args: tuple, kwargs: dict, target: int,
                   held: list) -> list[bytes]:
        """Encode arguments into spec; returns the object ids the task references.

        ObjectRefs at top level are passed by reference (resolved before the
        call); large values are put into the store and passed by reference.
        """
        ids: list[bytes] = []

        def one(value: Any, path: str) -> pb.TaskArg:
            if isinstance(value, ObjectRef):
                held.append(value)
                ids.append(value.binary())
                return pb.TaskArg(ref=value.to_proto())
            try:
                enc = self.encode(value, target, path)
            except envelope.XlangTypeError:
                raise
            except Exception as e:
                raise TypeError(f"{path} of {spec.name} cannot be serialized: a value of type "
                                f"{type(value).__module__}.{type(value).__qualname__} ({e})") from e
            if enc.size > INLINE_MAX:
                oid = self.next_put_id()
                self.references.add_owned(oid)
                ref = ObjectRef(oid, None)
                self.put_in_store(oid, enc, self.address)
                self.references.set_in_store(oid, self.node_id)
                self.memory_store.set(oid, in_store_node=self.node_id, size=enc.size)
                self.references.set_contains(oid, [r.object_id for r in enc.nested_refs])
                held.append(ref)
                ids.append(oid)
                return pb.TaskArg(ref=ref.to_proto())
            for r in enc.nested_refs:
                ids.append(r.object_id)
            held.append(self._hold_nested(enc.nested_refs))
            return pb.TaskArg(value=enc.to_proto(), nested_refs=enc.nested_refs)

        for i, a in enumerate(args):
            spec.args.append(one(a, f"argument {i}"))
        for name, v in kwargs.items():
            spec.kwargs.append(pb.KeywordArg(name=name, arg=one(v, f"keyword argument {name!r}")))
        return ids

    def new_task_spec(self, task_type: int, language: int, function: pb.FunctionDescriptor, name: str) -> pb.TaskSpec:
        spec = pb.TaskSpec(type=task_type, language=language, function=function, job_id=self.job_id,
                           task_id=TaskID.for_job(_job(self.job_id)).binary(),
                           parent_task_id=self.current_task_id(), caller=self.address,
                           caller_language=pb.PYTHON, name=name)
        spec.code_search_path.extend(self.code_search_path)
        return spec

    def submit_task(self, spec: pb.TaskSpec, arg_ids: list[bytes], held: list) -> list[ObjectRef]:
        """Submit a normal task; returns its return refs (owned here)."""
        refs = self._return_refs(spec)
        self.references.add_submitted(arg_ids)
        task = PendingTask(spec, arg_ids, scheduling_key(spec))
        self.call_soon(self.submitter.submit, task)
        del held  # arguments are now counted as submitted
        return refs

    def submit_actor_task(self, spec: pb.TaskSpec, arg_ids: list[bytes]) -> list[ObjectRef]:
        """Submit an actor method call in order; returns its return refs."""
        with self._seq_lock:
            seq = self._actor_seq.get(spec.actor_id, 0) + 1
            self._actor_seq[spec.actor_id] = seq
            spec.sequence_no = seq
            spec.caller_worker_id = self.worker_id
            refs = self._return_refs(spec)
            self.references.add_submitted(arg_ids)
            # Under the lock, so calls reach the loop in sequence order.
            self.call_soon(self.actor_submitter.submit, PendingTask(spec, arg_ids, ()))
        return refs

    def _return_refs(self, spec: pb.TaskSpec) -> list[ObjectRef]:
        tid = TaskID.from_binary(spec.task_id)
        refs = []
        for i in range(1, spec.num_returns + 1):
            oid = ObjectID.for_return(tid, i).binary()
            self.references.add_owned(oid)
            refs.append(ObjectRef(oid, None))
        return refs

    def complete_task(self, spec: pb.TaskSpec, returns: Iterable[pb.ReturnObject], arg_ids: list[bytes]) -> None:
        """Record a task's results (on the loop)."""
        for r in returns:
            if not self.references.is_owned(r.object_id):
                # Every reference to this return is already gone: drop it.
                if r.HasField("in_store_node") and r.in_store_node:
                    self._queue_free(r.object_id, [r.in_store_node])
                continue
            if r.HasField("value"):
                self.memory_store.set(r.object_id, envelope=r.value, size=r.size,
                                      nested=self._hold_nested(r.nested_refs))
            else:
                self.references.set_in_store(r.object_id, r.in_store_node)
                self.memory_store.set(r.object_id, in_store_node=r.in_store_node, size=r.size,
                                      nested=self._hold_nested(r.nested_refs))
        self.references.remove_submitted(arg_ids)

    def fail_task(self, spec: pb.TaskSpec, record: pb.ErrorRecord, arg_ids: list[bytes]) -> None:
        """Complete every return of a task with an error."""
        tid = TaskID.from_binary(spec.task_id)
        for i in range(1, spec.num_returns + 1):
            oid = ObjectID.for_return(tid, i).binary()
            if self.references.is_owned(oid):
                self.memory_store.set(oid, error=record)
        self.references.remove_submitted(arg_ids)

    def create_actor(self, spec: pb.TaskSpec) -> None:
        """Register an actor with the GCS, which creates it."""
        try:
            self.rpc(lambda: self.gcs.RegisterActor(gcs.RegisterActorRequest(creation_task=spec), timeout=RPC_TIMEOUT),
                     timeout=RPC_TIMEOUT + 5)
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.ALREADY_EXISTS:
                raise ValueError(e.details()) from None
            if e.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise ValueError(e.details()) from None
            raise

    def new_actor_id(self) -> bytes:
        return ActorID.of(_job(self.job_id)).binary()

    # -- getting ----------------------------------------------------------------
    def get(self, refs: list[ObjectRef], timeout: Optional[float]) -> list[Any]:
        """Block until every ref has a value (or error); raise GetTimeoutError after timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        oids = [r.binary() for r in refs]
        missing = [r for r in refs if self.memory_store.get_if_ready(r.binary()) is None]
        for r in missing:
            if r.owner_address() is not None:
                self.call_soon(self._start_fetch, r)
        if missing:
            want = list({r.binary() for r in missing})
            blocked = not self.is_driver and current_task.get() is not None and not self.actor_id
            if blocked:
                # Lend this task's CPUs to the node while it waits, so the
                # tasks it waits for can run (nested tasks deeper than CPUs).
                self.call_soon(self._notify_blocked, True)
            try:
                ready = self.memory_store.wait(want, len(want), timeout)
            finally:
                if blocked:
                    self.call_soon(self._notify_blocked, False)
            if len(ready) < len(want):
                raise exc.GetTimeoutError(
                    f"get() timed out after {timeout} s: {len(want) - len(ready)} of {len(set(oids))} "
                    f"object(s) not ready (first: {next(o for o in want if o not in ready).hex()})")
        values = []
        for oid in oids:
            entry = self.memory_store.get_if_ready(oid)
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
        """The refs (at least num_returns, unless the timeout passes) whose values are ready."""
        for r in refs:
            if r.owner_address() is not None:
                self.call_soon(self._start_fetch, r)
        ready = set(self.memory_store.wait([r.binary() for r in refs], num_returns, timeout))
        out = []
        for r in refs:
            if r.binary() in ready and len(out) < num_returns:
                out.append(r)
        return out

    # -- cancel / kill ------------------------------------------------------------
    def cancel(self, ref: ObjectRef, force: bool) -> None:
        task_id = ObjectID.from_binary(ref.binary()).task_id().binary()
        self.run(self.submitter.cancel(task_id, force), timeout=RPC_TIMEOUT)

    def kill_actor(self, actor_id: bytes, no_restart: bool) -> None:
        try:
            self.rpc(lambda: self.gcs.KillActor(gcs.KillActorRequest(actor_id=actor_id, no_restart=no_restart),
                                        timeout=RPC_TIMEOUT), timeout=RPC_TIMEOUT + 5)
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                raise ValueError(f"no actor {actor_id.hex()}") from None
            raise

    # -- the worker side ----------------------------------------------------------
    def resolve_args(self, spec: pb.TaskSpec) -> tuple[list, dict]:
        """Decode a task's arguments; top-level refs become their values (blocking)."""
        refs_at: list[tuple[int, Any, ObjectRef]] = []

        def one(arg: pb.TaskArg, slot: int, key: Any) -> Any:
            if arg.HasField("ref"):
                ref = self.ref_from_proto(arg.ref)
                refs_at.append((slot, key, ref))
                return None
            env = arg.value
            if env.format == pb.FORMAT_ERROR:
                raise errors.exception_from_record(pb.ErrorRecord.FromString(env.body))
            return envelope.decode_proto(env, self.hooks)

        args = [one(a, 0, i) for i, a in enumerate(spec.args)]
        kwargs = {k.name: one(k.arg, 1, k.name) for k in spec.kwargs}
        if refs_at:
            values = self.get([r for _, _, r in refs_at], None)
            for (slot, key, _), v in zip(refs_at, values):
                if slot == 0:
                    args[key] = v
                else:
                    kwargs[key] = v
        return args, kwargs

    def encode_returns(self, spec: pb.TaskSpec, value: Any) -> list[pb.ReturnObject]:
        n = spec.num_returns
        if n == 0:
            return []
        if n == 1:
            values = [value]
        else:
            try:
                values = list(value)
            except TypeError:
                raise ValueError(f"{spec.name} has num_returns={n} but returned a {type(value).__name__}, "
                                 "not a sequence") from None
            if len(values) != n:
                raise ValueError(f"{spec.name} has num_returns={n} but returned {len(values)} values")
        tid = TaskID.from_binary(spec.task_id)
        out = []
        target = spec.caller_language
        for i, v in enumerate(values, start=1):
            oid = ObjectID.for_return(tid, i).binary()
            enc = self.encode(v, target, f"return value {i - 1}" if n > 1 else "return value")
            owned_nested = [r.object_id for r in enc.nested_refs if r.owner.worker_id == self.worker_id]
            if owned_nested:
                self.references.add_lent(owned_nested)
            if enc.size > INLINE_MAX:
                self.put_in_store(oid, enc, spec.caller)
                out.append(pb.ReturnObject(object_id=oid, in_store_node=self.node_id, size=enc.size,
                                           nested_refs=enc.nested_refs))
            else:
                out.append(pb.ReturnObject(object_id=oid, value=enc.to_proto(), size=enc.size,
                                           nested_refs=enc.nested_refs))
        return out

    def error_returns(self, spec: pb.TaskSpec, record: pb.ErrorRecord) -> list[pb.ReturnObject]:
        env = pb.Envelope(format=pb.FORMAT_ERROR, body=record.SerializeToString())
        tid = TaskID.from_binary(spec.task_id)
        n = max(spec.num_returns, 1 if spec.type == pb.ACTOR_CREATION_TASK else 0)
        return [pb.ReturnObject(object_id=ObjectID.for_return(tid, i).binary(), value=env) for i in range(1, n + 1)]

    def fetch_function(self, job_id: bytes, function_hash: bytes) -> Any:
        import cloudpickle
        self._ensure_job_path(job_id)
        reply = self.rpc(lambda: self.gcs.GetFunction(gcs.GetFunctionRequest(job_id=job_id, function_hash=function_hash),
                                              timeout=RPC_TIMEOUT), timeout=RPC_TIMEOUT + 5)
        if not reply.found:
            raise LookupError(f"function {function_hash.hex()} of job {job_id.hex()} is not in the GCS function table")
        return cloudpickle.loads(reply.pickled)

    def _ensure_job_path(self, job_id: bytes) -> None:
        done = getattr(self, "_job_paths", set())
        if job_id in done:
            return
        reply = self.rpc(lambda: self.gcs.KVGet(gcs.KVGetRequest(namespace="job", key=job_id + b":sys_path"),
                                        timeout=RPC_TIMEOUT), timeout=RPC_TIMEOUT + 5)
        if reply.found:
            for p in reversed(json.loads(reply.value)):
                if p not in sys.path:
                    sys.path.insert(0, p)
        done.add(job_id)
        self._job_paths = done

    def export_function(self, pickled: bytes, name: str) -> bytes:
        """Put a pickled function or class into the GCS function table; returns its hash."""
        digest = hashlib.sha1(pickled).digest()
        self.rpc(lambda: self.gcs.ExportFunction(gcs.ExportFunctionRequest(job_id=self.job_id, function_hash=digest,
                                                                   pickled=pickled, name=name),
                                         timeout=RPC_TIMEOUT), timeout=RPC_TIMEOUT + 5)
        return digest


def _job(job_id: bytes):
    from polyray.protocol.ids import JobID
    return JobID.from_binary(job_id)
