"""The CoreWorker: one per driver or worker process.

It owns the process's event loop thread (all gRPC I/O), its CoreWorkerService
server, its clients to the GCS and the local raylet, the in-process memory
store, reference counts, and the submitters and executor. User threads call
its blocking methods; they hand work to the loop and wait on results.

The class is assembled from one mixin per concept: values, puts, gets and
waits (``objects.py``), frees and borrows (``ownership.py``), task submission
(``submission.py``) and the worker's execution side (``execution.py``). This
module keeps the lifecycle, the hand-off to the loop, the task context and
the connections to other processes.

Invariants: an object this process owns is completed exactly once (value,
store location or error); values larger than INLINE_MAX never travel inline
(they go through the node's shared store, pinned by the raylet); every wait
ends, by value, error or timeout.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import os
import sys
import threading
from typing import Any, Callable, Iterable, Optional

import grpc

from polyray.core.actor_submitter import ActorTaskSubmitter
from polyray.core.execution import ExecutionMixin
from polyray.core.memory_store import MemoryStore
from polyray.core.object_puller import ObjectPuller
from polyray.core.object_ref import ObjectRef, set_core
from polyray.core.objects import INLINE_MAX, STORE_FULL_WAIT_S, ObjectsMixin  # noqa: F401 - re-exported
from polyray.core.ownership import OwnershipMixin
from polyray.core.push_port import PushConnection, PushListener
from polyray.core.reference_counter import ReferenceCounter
from polyray.core.spin_selector import SpinSelector, spin_seconds
from polyray.core.rpc import RPC_TIMEOUT, SERVER_OPTIONS, aio_channel, address_str
from polyray.core.submission import SubmissionMixin
from polyray.core.task_executor import TaskContext, TaskExecutor, current_task
from polyray.core.task_submitter import NormalTaskSubmitter, push_requests
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2_grpc as cw_grpc
from polyray.protocol import envelope
from polyray.protocol import gcs_pb2 as gcs
from polyray.protocol import gcs_pb2_grpc as gcs_grpc
from polyray.protocol import raylet_pb2 as rl
from polyray.protocol import raylet_pb2_grpc as rl_grpc
from polyray.protocol.ids import JobID, TaskID

__all__ = ["CoreWorker", "INLINE_MAX", "STORE_FULL_WAIT_S"]

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


class CoreWorker(ObjectsMixin, OwnershipMixin, SubmissionMixin, ExecutionMixin):
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
        self._driver_task = TaskContext(TaskID.for_job(JobID.from_binary(job_id)).binary(), None)
        self._spec_template: Optional[pb.TaskSpec] = None
        self._put_lock = threading.Lock()
        self._seq_lock = threading.Lock()
        self._actor_seq: dict[bytes, int] = {}
        self._pending_free: list[bytes] = []
        self._pending_borrows: dict[bytes, tuple[pb.Address, list, list]] = {}
        self._borrow_flush: Optional[asyncio.Future] = None
        self.borrows_changed = False
        self._owner_channels: dict[str, grpc.aio.Channel] = {}
        # Nodes holding copies of objects in their stores, beyond the primary
        # copy the memory store names (owned: from AddObjectLocation; borrowed:
        # from the owner's GetObject reply), and the owners of borrowed ones.
        self._locations: dict[bytes, list[bytes]] = {}
        self._owners: dict[bytes, pb.Address] = {}
        self._store = None
        # A driver's loop polls briefly before sleeping while a user thread
        # waits for a result: the reply usually comes within the spin
        # (spin_selector.py). Not a worker's loop: its tasks' pushes come to
        # the main thread, and many spinning loops would take the cores.
        self._loop = asyncio.SelectorEventLoop(SpinSelector(spin_seconds() if is_driver else 0.0,
                                                            lambda: self.memory_store.has_waiters))
        self._thread = threading.Thread(target=self._loop.run_forever, name="polyray-io", daemon=True)
        self._thread_ident = -1  # the io thread's ident, once started
        self._posted: collections.deque = collections.deque()
        self._drain_pending = False
        self._server: Optional[grpc.aio.Server] = None
        # Workers take pushed tasks on a push port too (push_port.py); the
        # variable turns it off, for callers as well (to compare the two).
        self.use_push_port = os.environ.get("POLYRAY_PUSH_PORT", "1") != "0"
        self.push_listener: Optional[PushListener] = None
        self._log_task: Optional[asyncio.Task] = None

    # -- lifecycle --------------------------------------------------------------
    def start(self, subscribe_logs: bool = False) -> None:
        """Start the loop, the server, the clients; register with the raylet."""
        self._thread.start()
        self._thread_ident = self._thread.ident
        self.run(self._start(subscribe_logs), timeout=RPC_TIMEOUT + 5)
        set_core(self)

    async def _start(self, subscribe_logs: bool) -> None:
        self._server = grpc.aio.server(options=SERVER_OPTIONS)
        from polyray.core.service import CoreWorkerService
        cw_grpc.add_CoreWorkerServiceServicer_to_server(CoreWorkerService(self), self._server)
        port = self._server.add_insecure_port(f"{self.host}:0")
        await self._server.start()
        self.address.port = port
        if not self.is_driver and self.use_push_port:
            self.push_listener = PushListener(self, self.host)
            self.address.push_port = self.push_listener.port
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
                job_id=self.job_id, startup_token=self.startup_token, is_driver=self.is_driver,
                push_port=self.address.push_port),
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
        """Run fn(*args) on the loop, soon (from any thread), in call order.

        Calls from other threads queue up and the loop is woken once per
        batch: only the call that finds the queue without a drain pending
        writes to the loop's self-pipe (a system call that also hands the GIL
        to the loop thread), so a burst of submissions costs one wake-up.
        """
        if threading.get_ident() == self._thread_ident:
            fn(*args)
            return
        self._posted.append((fn, args))
        if not self._drain_pending:
            self._drain_pending = True
            self._loop.call_soon_threadsafe(self._drain_posted)

    def _drain_posted(self) -> None:
        # Cleared before draining: a call queued after this point schedules
        # another drain, one queued before it is run by this one.
        self._drain_pending = False
        posted = self._posted
        while posted:
            fn, args = posted.popleft()
            try:
                fn(*args)
            except Exception as e:  # as the loop does for a failing callback
                self._loop.call_exception_handler({
                    "message": f"Exception in callback {getattr(fn, '__qualname__', fn)!s}",
                    "exception": e})

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
        self._thread_ident = -1  # a later thread may reuse the ident
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

    # -- connections to other processes -------------------------------------------
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

    def open_push_stream(self, worker: pb.Address, on_reply: Callable[[Any], None],
                         own_channel: bool = False) -> tuple[Any, Any, Optional[grpc.aio.Channel]]:
        """A PushTasks stream to a worker (on the loop): ``(call, queue, channel)``.

        ``queue.put_nowait(specs)`` pushes TaskSpecs (None ends the stream)
        and ``async for reply in call`` reads to its end. The worker's push
        port when it has one: replies go to ``on_reply`` as they are read.
        Else its gRPC PushTasks, whose replies the iteration yields; on the
        cached channel to the worker, or with ``own_channel`` on a new one
        returned as ``channel`` for the caller to close (an actor restarted
        at the same address must not reuse the dead process's connection).
        """
        if worker.push_port and self.use_push_port:
            conn = PushConnection(worker.host, worker.push_port, on_reply)
            return conn, conn, None
        channel = aio_channel(address_str(worker)) if own_channel else None
        queue: asyncio.Queue = asyncio.Queue()
        stub = cw_grpc.CoreWorkerServiceStub(channel or self.channel_to(worker))
        return stub.PushTasks(push_requests(queue)), queue, channel

    def exit_soon(self) -> None:
        """End this worker process shortly (its actor exited), from any thread."""
        from polyray.core.service import exit_process
        self.call_soon(lambda: self._loop.call_later(0.1, exit_process))

    def channel_to(self, owner: pb.Address) -> grpc.aio.Channel:
        """A cached channel to another process's CoreWorker (owners, leased workers)."""
        target = address_str(owner)
        ch = self._owner_channels.get(target)
        if ch is None:
            ch = self._owner_channels[target] = aio_channel(target)
        return ch
