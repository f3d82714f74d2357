"""The CoreWorker: one per driver or worker process.

It wires the components below and offers the methods the API layer calls
(``polyray.api``, ``actor``, ``remote_function``, ``xlang``, the worker's
main). Each component receives what it uses in its constructor and owns its
own state; they meet only through those parameters::

    WorkerContext   who this process is; the running task (put ids)
    IoLoop          the io thread: every gRPC call runs on it
    Connections     channels and stubs: GCS, raylets, other workers, push streams
    ValueCodec      values <-> envelopes, refs from the wire
    MemoryStore     object id -> value / store location / error, with waits
    ReferenceCounter  counts per object; decides frees and borrow updates
    OwnedObjects    puts, task results (the TaskFinisher), copies, frees
    BorrowTracker   borrow updates to owners, batched; flush before results
    NodeDirectory, ObjectPuller  other nodes' raylets; pulling copies here
    ObjectGetter    get / wait / futures / task arguments; fetches from owners
    ObjectRecovery  recomputes lost owned objects from their lineage (OwnedObjects.lineage)
    NormalTaskSubmitter, ActorTaskSubmitter  leases, streams, ordering, retries
    TaskSubmission  specs, arguments, return refs, actor registration
    FunctionManager, ReturnEncoder, TaskExecutor  the worker side
    CoreWorkerService, PushListener  what other processes ask of this one

Invariants: every field has one owner that creates it in ``__init__``; an
object this process owns is completed exactly once; every wait ends, by
value, error or timeout.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import grpc

from polyray.core import driver_output
from polyray.core.actor_handles import ActorHandles, gcs_killer
from polyray.core.actor_submitter import ActorTaskSubmitter
from polyray.core.borrow_tracker import BorrowTracker
from polyray.core.borrower_watch import BorrowerWatch
from polyray.core.connections import Connections
from polyray.core.function_manager import FunctionManager
from polyray.core.generators import GeneratorStreams
from polyray.core.io_loop import IoLoop
from polyray.core.memory_store import MemoryStore
from polyray.core.node_directory import NodeDirectory
from polyray.core.node_store import NodeStore
from polyray.core.object_getter import ObjectGetter
from polyray.core.object_puller import ObjectPuller
from polyray.core.object_recovery import ObjectRecovery, probe_copy
from polyray.core.object_ref import ObjectRef, set_core
from polyray.core.owned_objects import OwnedObjects
from polyray.core.owner_watch import OwnerWatch
from polyray.core.push_port import PushListener
from polyray.core.reference_counter import ReferenceCounter
from polyray.core.return_encoder import ReturnEncoder
from polyray.core.rpc import RPC_TIMEOUT, SERVER_OPTIONS
from polyray.core.service import CoreWorkerService, add_to_server, exit_process
from polyray.core.spin_selector import spin_seconds
from polyray.core.task_events import EventingFinisher, TaskEventBuffer
from polyray.core.task_events import enabled as task_events_enabled
from polyray.core.task_executor import TaskExecutor
from polyray.core.task_submission import TaskSubmission
from polyray.core.task_submitter import NormalTaskSubmitter, scheduling_key
from polyray.core.value_codec import ValueCodec
from polyray.core.worker_context import WorkerContext
from polyray.protocol import auth, envelope, runtime_spec
from polyray.protocol import common_pb2 as pb
from polyray.protocol import gcs_pb2 as gcs
from polyray.protocol import raylet_pb2 as rl

__all__ = ["CoreWorker", "INLINE_MAX"]

# Values up to this size travel inside messages; larger ones go through the store.
INLINE_MAX = runtime_spec.INLINE_MAX_BYTES


class CoreWorker:
    """The runtime of one process (see module docstring)."""

    def __init__(self, *, is_driver: bool, gcs_address: str, raylet_address: str, node_id: bytes,
                 store_name: str, job_id: bytes, worker_id: bytes, host: str = "127.0.0.1",
                 startup_token: str = "", namespace: str = "", code_search_path: Iterable[str] = (),
                 lineage_max_bytes: int | None = None, runtime_env: str = "") -> None:
        self.gcs_address = gcs_address
        self.raylet_address = raylet_address
        self.store_name = store_name
        self._startup_token = startup_token
        ctx = self.ctx = WorkerContext(is_driver=is_driver, job_id=job_id, worker_id=worker_id, node_id=node_id,
                                       host=host, namespace=namespace, code_search_path=tuple(code_search_path),
                                       runtime_env=runtime_env)
        self.memory_store = MemoryStore()
        io = self.io = IoLoop(spin_s=spin_seconds() if is_driver else 0.0,
                              spin_while=lambda: self.memory_store.has_waiters)
        # Workers take pushed tasks on a push port too (push_port.py; mutual TLS
        # under POLYRAY_USE_TLS); the variable turns it off, for callers as well.
        conns = self.connections = Connections(gcs_address=gcs_address, raylet_address=raylet_address,
                                               use_push_port=os.environ.get("POLYRAY_PUSH_PORT", "1") != "0")
        self.codec = ValueCodec(worker_id=worker_id)
        self.node_store = NodeStore(store_name)
        if is_driver:  # a driver's first large puts take no page faults (docs/performance.md, Large puts)
            self.node_store.prefault_in_background()
        self.nodes = NodeDirectory(conns)
        self.borrows = BorrowTracker(ctx=ctx, io=io, connections=conns,
                                     on_released=lambda oids: self._forget_borrowed(oids))
        # The counter's decisions go to the components created next.
        # Freed handle pseudo-objects destroy their actors (actor_handles.py).
        self.actor_handles = ActorHandles(kill=gcs_killer(io, lambda: conns.gcs))
        self.references = ReferenceCounter(self._on_free, self.borrows.on_borrow_change,
                                           on_first_holder=lambda: io.call_soon(self.borrower_watch.start))
        # Dead borrowers' borrows and lends are released (borrower_watch.py).
        self.borrower_watch = BorrowerWatch(references=self.references, gcs=lambda: conns.gcs, self_id=worker_id)
        self.owned = OwnedObjects(ctx=ctx, io=io, connections=conns, references=self.references,
                                  memory_store=self.memory_store, codec=self.codec, node_store=self.node_store,
                                  nodes=self.nodes, lineage_max_bytes=lineage_max_bytes)
        self.puller = ObjectPuller(node_store=self.node_store, connections=conns, nodes=self.nodes,
                                   node_id=node_id, worker_id=worker_id, add_location=self.owned.add_location)
        self.getter = ObjectGetter(ctx=ctx, io=io, connections=conns, memory_store=self.memory_store,
                                   codec=self.codec, node_store=self.node_store, puller=self.puller, owned=self.owned)
        # Task events to the GCS (task_events.py; POLYRAY_TASK_EVENTS=0: none).
        self.task_events = TaskEventBuffer(job_id=job_id, worker_id=worker_id, node_id=node_id,
                                           gcs=lambda: conns.gcs) if task_events_enabled() else None
        finisher: Any = self.owned if self.task_events is None else EventingFinisher(self.owned, self.task_events)
        # A worker's idle leases linger only while it runs a task (task_submitter.py, issue 14).
        self.submitter = NormalTaskSubmitter(connections=conns, finisher=finisher, node_id=node_id,
                                             lingers=None if is_driver else lambda: self.executor.busy)
        self.actor_submitter = ActorTaskSubmitter(connections=conns, finisher=finisher)
        # Lost objects are recomputed from their lineage (object_recovery.py).
        self.recovery = ObjectRecovery(
            lineage=self.owned.lineage, memory_store=self.memory_store, references=self.references,
            submit=self.submitter.submit, scheduling_key=scheduling_key, locations_of=self.owned.locations_of,
            copy_exists=lambda oid, node: probe_copy(oid=oid, node_id=node, local_node=node_id,
                                                     local_contains=self.node_store.store.contains,
                                                     nodes=self.nodes, connections=conns))
        self.owned.recovery = self.getter.recovery = self.recovery
        # Borrowed values sealed in this node's store are read without their owners'
        # answer while the owner is not known dead (owner_watch.py; POLYRAY_LOCAL_READS=0: never).
        self.owner_watch = OwnerWatch(gcs=lambda: conns.gcs, wake=lambda: io.call_soon(self.owner_watch.start))
        if os.environ.get("POLYRAY_LOCAL_READS", "1") != "0":
            self.getter.references, self.getter.owner_watch = self.references, self.owner_watch
        self.submission = TaskSubmission(ctx=ctx, io=io, connections=conns, codec=self.codec,
                                         references=self.references, owned=self.owned, submitter=self.submitter,
                                         actor_submitter=self.actor_submitter, events=self.task_events,
                                         memory_store=self.memory_store,
                                         fetch_borrowed=lambda refs: self.getter.start_fetches(refs))
        self.actor_submitter.resolve = self.submission.resolve_actor_args
        self.actor_submitter.discard_returns = self.owned.discard_returns
        # Generator tasks' items (generators.py), reported on their result streams.
        self.generators = GeneratorStreams(references=self.references, owned=self.owned,
                                           memory_store=self.memory_store, worker_id=worker_id)
        self.submitter.on_generator_item = self.actor_submitter.on_generator_item = self.generators.on_item
        self.functions = FunctionManager(io=io, connections=conns, job_id=job_id)
        self.returns = ReturnEncoder(ctx=ctx, codec=self.codec, owned=self.owned, references=self.references)
        self.executor = TaskExecutor(ctx=ctx, functions=self.functions, getter=self.getter, returns=self.returns)
        self.executor.events = self.task_events
        self.service = CoreWorkerService(ctx=ctx, io=io, executor=self.executor, memory_store=self.memory_store,
                                         references=self.references, owned=self.owned, getter=self.getter,
                                         borrows=self.borrows)
        self.service.cancel_owned = self.submission.cancel_owned
        self.service.cancel_children = self.submission.cancel_children
        self.push_listener: PushListener | None = None
        self._server: grpc.aio.Server | None = None
        self._log_task: asyncio.Task | None = None
        self._log_subscribed = asyncio.Event()
        self._drain_waiters: dict[str, asyncio.Future[None]] = {}

    # -- identity (the WorkerContext's) ------------------------------------------
    @property
    def is_driver(self) -> bool:
        """Whether this process is a driver (else a worker)."""
        return self.ctx.is_driver

    @property
    def job_id(self) -> bytes:
        """This process's job id."""
        return self.ctx.job_id

    @property
    def worker_id(self) -> bytes:
        """This process's worker id."""
        return self.ctx.worker_id

    @property
    def node_id(self) -> bytes:
        """The id of this process's node."""
        return self.ctx.node_id

    @property
    def namespace(self) -> str:
        """The job's namespace (named actors)."""
        return self.ctx.namespace

    @property
    def address(self) -> pb.Address:
        """This process's address (its CoreWorkerService; push port on workers)."""
        return self.ctx.address

    @property
    def actor_id(self) -> bytes:
        """The id of the actor this worker hosts (b"" if none)."""
        return self.ctx.actor_id

    @property
    def shutting_down(self) -> bool:
        """Whether shutdown() has begun."""
        return self.ctx.shutting_down

    def _on_free(self, oid: bytes, node: bytes) -> None:
        """The ReferenceCounter freed ``oid``: an actor whose last handle went, or an object."""
        if not self.actor_handles.on_free(oid):
            self.owned.on_free(oid, node)
            self.generators.on_free(oid)

    @property
    def actor_handle_factory(self) -> Callable[[pb.ActorHandle], Any]:
        """Builds actor handles from their protocol form (set by the API layer)."""
        return self.codec.actor_handle_factory

    @actor_handle_factory.setter
    def actor_handle_factory(self, factory: Callable[[pb.ActorHandle], Any]) -> None:
        self.codec.actor_handle_factory = factory

    @property
    def gcs(self) -> Any:
        """The GCS's stub (call it through ``rpc``)."""
        return self.connections.gcs

    # -- lifecycle --------------------------------------------------------------
    def start(self, subscribe_logs: bool = False) -> None:
        """Start the loop, the server, the clients; register with the raylet."""
        self.io.start()
        self.io.run(self._start(subscribe_logs), timeout=RPC_TIMEOUT + 5)
        set_core(self)

    async def _start(self, subscribe_logs: bool) -> None:
        ctx = self.ctx
        self._server = grpc.aio.server(options=SERVER_OPTIONS, interceptors=auth.server_interceptors())
        add_to_server(self.service, self._server)
        port = auth.bind(self._server, f"{ctx.host}:0", "the CoreWorker")
        await self._server.start()
        ctx.address.port = port
        if not ctx.is_driver and self.connections.use_push_port:
            self.push_listener = PushListener(host=ctx.host, worker_id=ctx.worker_id,
                                              settle_borrows=self._settle_borrows,
                                              exiting=lambda: self.executor.exiting, exit_soon=self.exit_soon)
            ctx.address.push_port = self.push_listener.port
        self.connections.open()
        try:
            registered = await self.connections.raylet.RegisterWorker(rl.RegisterWorkerRequest(
                worker_id=ctx.worker_id, language=pb.PYTHON, pid=os.getpid(), port=port,
                job_id=ctx.job_id, startup_token=self._startup_token, is_driver=ctx.is_driver,
                push_port=ctx.address.push_port),
                timeout=RPC_TIMEOUT)
        except grpc.aio.AioRpcError as e:
            raise ConnectionError(f"cannot register with the raylet at {self.raylet_address}: "
                                  f"{e.code().name}: {e.details()}") from None
        if ctx.is_driver and registered.log_dir:
            sys.stderr.write(f"[polyray] workers' log files: {registered.log_dir}\n")
        if subscribe_logs:
            driver_output.install()  # worker lines go between the driver's own lines
            self._log_task = asyncio.ensure_future(self._print_logs())
        if self.task_events is not None:
            self.task_events.start()

    def shutdown(self) -> None:
        """Return leases, stop the server and the loop."""
        if self.ctx.shutting_down:
            return
        self.ctx.shutting_down = True
        try:
            self.io.run(self._stop(), timeout=15)
        except Exception:  # noqa: BLE001 - shutting down: the loop stops regardless
            pass
        self.io.stop()
        set_core(None)
        self.node_store.close()

    async def _stop(self) -> None:
        if self._log_task is not None:
            await self._drain_logs()
            self._log_task.cancel()
        self.borrower_watch.close()
        self.owner_watch.close()
        await self.submitter.close()
        await self.actor_submitter.close()
        if self.task_events is not None:
            await self.task_events.close()
        if self.ctx.is_driver:
            try:
                await self.connections.gcs.MarkJobFinished(gcs.MarkJobFinishedRequest(job_id=self.ctx.job_id),
                                                           timeout=5)
            except grpc.aio.AioRpcError:
                pass
        if self._server is not None:
            await self._server.stop(grace=0.5)
        await self.connections.close()
        # Let stream tasks observe their closed channels before the loop stops.
        current = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not current]
        for t in rest:
            t.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    async def _drain_logs(self) -> None:
        """Wait (at most the spec's [logs] drain_ms) until every line the job's
        workers printed before now has been printed here (DrainLogs)."""
        token = os.urandom(8).hex()
        waiter = asyncio.get_running_loop().create_future()
        self._drain_waiters[token] = waiter
        bound = runtime_spec.LOGS_DRAIN_MS / 1000
        try:
            await asyncio.wait_for(self._log_subscribed.wait(), bound)
            await self.connections.gcs.DrainLogs(
                gcs.DrainLogsRequest(job_id=self.ctx.job_id, token=token, timeout_ms=runtime_spec.LOGS_DRAIN_MS),
                timeout=bound + 1)
            await asyncio.wait_for(waiter, bound)
        except (asyncio.TimeoutError, grpc.aio.AioRpcError):
            sys.stderr.write(f"[polyray] worker output not fully drained within {runtime_spec.LOGS_DRAIN_MS} ms\n")
        finally:
            self._drain_waiters.pop(token, None)

    async def _print_logs(self) -> None:
        """Print the job's worker output here, as Ray prints print() in tasks."""
        while not self.ctx.shutting_down:
            try:
                call = self.connections.gcs.SubscribeLogs(gcs.SubscribeLogsRequest(job_id=self.ctx.job_id))
                await call.wait_for_connection()
                self._log_subscribed.set()
                async for batch in call:
                    if batch.drain_token:
                        waiter = self._drain_waiters.get(batch.drain_token)
                        if waiter is not None and not waiter.done():
                            waiter.set_result(None)
                        continue
                    out = sys.stderr if batch.is_error else sys.stdout
                    label = batch.worker_label or f"pid={batch.pid}"
                    if batch.dropped_lines:
                        sys.stderr.write(f"[polyray] {batch.dropped_lines} line(s) of ({label}) "
                                         "were dropped (the raylet's buffer was full)\n")
                    if batch.lines:
                        driver_output.write_lines(out, "".join(f"({label}) {line}\n" for line in batch.lines))
                    out.flush()
            except asyncio.CancelledError:
                return
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.5)

    def exit_soon(self) -> None:
        """End this worker process shortly (its actor exited), from any thread."""
        self.io.call_later(0.1, exit_process)

    def _settle_borrows(self) -> None:
        # Blocking (push port thread): borrows decided while a task ran reach
        # their owners before its result is sent. Most tasks borrow nothing.
        if self.borrows.changed:
            self.borrows.changed = False
            self.io.run(self.borrows.flush(), timeout=RPC_TIMEOUT + 5)

    def _forget_borrowed(self, oids: list[bytes]) -> None:
        # Borrowed objects no longer held here (on the loop): drop the values
        # fetched for them and where their copies were.
        contains = self.memory_store.contains
        for oid in oids:
            if contains(oid):
                self.memory_store.delete(oid)
                self.getter.forget(oid)

    # -- the API layer's calls ----------------------------------------------------
    def run(self, coro: Any, timeout: float | None = None) -> Any:
        """Run a coroutine on the io loop and wait for its result."""
        return self.io.run(coro, timeout)

    def rpc(self, make_call: Callable[[], Any], timeout: float | None = None) -> Any:
        """Make a gRPC call on the io loop and wait for its reply."""
        return self.io.rpc(make_call, timeout)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run fn(*args) on the io loop soon, in call order (from any thread)."""
        self.io.call_soon(fn, *args)

    def current_task_id(self) -> bytes:
        """The running task's id (the driver's task id in a driver)."""
        return self.ctx.current_task_id()

    def next_put_id(self) -> bytes:
        """A fresh object id for a put of the running task."""
        return self.ctx.next_put_id()

    def encode(self, value: Any, target: int, path: str = "value") -> envelope.Encoded:
        """Encode a value for a consumer of language ``target``."""
        return self.codec.encode(value, target, path)

    def ref_from_proto(self, msg: pb.ObjectRef) -> ObjectRef:
        """An ObjectRef for a reference read from the wire."""
        return self.codec.ref_from_proto(msg)

    def put(self, value: Any, *, target: int = pb.PYTHON, _path: str = "value") -> ObjectRef:
        """Store a value owned by this process; returns its ObjectRef."""
        return self.owned.put(value, target=target, path=_path)

    def get(self, refs: list[ObjectRef], timeout: float | None) -> list[Any]:
        """The values of ``refs`` (blocking; GetTimeoutError after ``timeout``)."""
        return self.getter.get(refs, timeout)

    def get_future(self, ref: ObjectRef) -> Any:
        """A concurrent.futures.Future resolved with the ref's value."""
        return self.getter.get_future(ref)

    def wait(self, refs: list[ObjectRef], num_returns: int, timeout: float | None) -> list[ObjectRef]:
        """The first ``num_returns`` ready refs (fewer when the timeout passes)."""
        return self.getter.wait(refs, num_returns, timeout)

    def new_task_spec(self, task_type: pb.TaskType, language: pb.Language, function: pb.FunctionDescriptor,
                      name: str) -> pb.TaskSpec:
        """A TaskSpec with a fresh task id."""
        return self.submission.new_task_spec(task_type, language, function, name)

    def build_args(self, spec: pb.TaskSpec, args: tuple, kwargs: dict, target: int, held: list) -> list[bytes]:
        """Encode arguments into ``spec``; the object ids it references."""
        return self.submission.build_args(spec, args, kwargs, target, held)

    def submit_task(self, spec: pb.TaskSpec, arg_ids: list[bytes], held: list) -> list[ObjectRef]:
        """Submit a normal task; its return refs."""
        return self.submission.submit_task(spec, arg_ids, held)

    def submit_actor_task(self, spec: pb.TaskSpec, arg_ids: list[bytes]) -> list[ObjectRef]:
        """Submit an actor method call; its return refs."""
        return self.submission.submit_actor_task(spec, arg_ids)

    def return_refs(self, spec: pb.TaskSpec) -> list[ObjectRef]:
        """The (owned) refs of a task's returns, without submitting it."""
        return self.submission.return_refs(spec)

    def create_actor(self, spec: pb.TaskSpec) -> None:
        """Register an actor with the GCS, which creates it."""
        self.submission.create_actor(spec)

    def new_actor_id(self) -> bytes:
        """A fresh actor id of this job."""
        return self.submission.new_actor_id()

    def cancel(self, ref: ObjectRef, force: bool, recursive: bool = True) -> None:
        """Cancel the task that returns ``ref`` (through its owner when this process borrows it)."""
        self.submission.cancel(ref, force, recursive)

    def kill_actor(self, actor_id: bytes, no_restart: bool) -> None:
        """Kill an actor through the GCS."""
        self.submission.kill_actor(actor_id, no_restart)

    def export_function(self, pickled: bytes, name: str) -> bytes:
        """Export a pickled function to the GCS; its hash."""
        return self.functions.export_function(pickled, name)

    def ensure_job_path(self, job_id: bytes) -> None:
        """Put the job's import path on sys.path (workers)."""
        self.functions.ensure_job_path(job_id)
