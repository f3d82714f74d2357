"""The caller's side of tasks: task specs, arguments, return refs, actors.

User threads build a TaskSpec (``new_task_spec``, ``build_args``) and submit
it; the spec is handed to the io loop (one wake-up per batch, see
IoLoop.call_soon), where the normal-task and actor submitters push it.
Return refs are owned here from the moment they are made, with ids computed
from the task id, so no round trip is needed to name them.

Invariants: arguments larger than the inline limit are put into the store
(owned here) and passed by reference; every object id an argument references
is counted as submitted until the task's submitter reports it finished;
calls to one actor get sequence numbers rising by one per call, and reach the
loop in that order.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc

from polyray.core import object_ref
from polyray.core.actor_submitter import ActorTaskSubmitter
from polyray.core.connections import Connections
from polyray.core.io_loop import IoLoop
from polyray.core.memory_store import MemoryStore
from polyray.core.object_ref import ObjectRef
from polyray.core.owned_objects import OwnedObjects, return_id
from polyray.core.pending_task import PendingTask
from polyray.core.reference_counter import ReferenceCounter
from polyray.core.rpc import RPC_TIMEOUT
from polyray.core.submit_policy import travels_inline
from polyray.core.task_events import TaskEventBuffer
from polyray.core.task_submitter import NormalTaskSubmitter, scheduling_key
from polyray.core.value_codec import ValueCodec
from polyray.core.worker_context import WorkerContext
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import envelope
from polyray.protocol import gcs_pb2 as gcs
from polyray.protocol.ids import ActorID, JobID, ObjectID


class _TaskIds:
    """Unique task ids without a system call per task: a random per-process
    prefix (12 bytes, drawn again in a forked child) and a counter (8 bytes),
    then the job id (4 bytes) -- the TaskID layout of protocol/ids.py."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self.prefix = os.urandom(12)
        self.counter = itertools.count(1)

    def next(self, job_id: bytes) -> bytes:
        return self.prefix + next(self.counter).to_bytes(8, "little") + job_id


_task_ids = _TaskIds()


class TaskSubmission:
    """Builds and submits task specs for the API layer."""

    def __init__(self, *, ctx: WorkerContext, io: IoLoop, connections: Connections, codec: ValueCodec,
                 references: ReferenceCounter, owned: OwnedObjects, submitter: NormalTaskSubmitter,
                 actor_submitter: ActorTaskSubmitter, events: TaskEventBuffer | None = None,
                 memory_store: MemoryStore | None = None,
                 fetch_borrowed: Callable[[list[ObjectRef]], None] | None = None) -> None:
        self._ctx = ctx
        self._io = io
        self._connections = connections
        self._codec = codec
        self._references = references
        self._owned = owned
        self._submitter = submitter
        self._actor_submitter = actor_submitter
        self._spec_template: pb.TaskSpec | None = None
        self._seq_lock = threading.Lock()
        self._actor_seq: dict[bytes, int] = {}
        # Task events (task_events.py): the owner's times go in the spec once queued on the loop (the
        # worker's event carries them); an event only for a task still waiting at a flush.
        self._events = events
        self._queue_normal: Any = submitter.submit
        self._queue_actor: Any = actor_submitter.submit
        if events is not None:
            def queue_normal(task: PendingTask, submitted_ns: int) -> None:
                events.owner_queued(task.spec, submitted_ns)
                submitter.submit(task)

            def queue_actor(task: PendingTask, submitted_ns: int) -> None:
                events.owner_queued(task.spec, submitted_ns)
                actor_submitter.submit(task)

            self._queue_normal, self._queue_actor = queue_normal, queue_actor
        # PENDING_ARGS: a normal task whose argument refs owned here are not ready waits for them
        # here (submitter.hold: cancel() finds it) and is queued for a lease once they are.
        self._memory_store = memory_store
        if memory_store is not None:
            queue_ready = self._queue_normal

            def queue_normal_after_args(task: PendingTask, submitted_ns: int = 0) -> None:
                waiting = self._unready_args(task.spec) if task.arg_ids else None
                if not waiting:
                    if events is not None:
                        queue_ready(task, submitted_ns)
                    else:
                        queue_ready(task)
                    return
                if events is not None:
                    events.owner_waiting_args(task.spec, submitted_ns)
                submitter.hold(task)
                self._wait_args(task, waiting)

            self._queue_normal = queue_normal_after_args
        # Actor calls resolve their owned and borrowed argument refs before they enter
        # the actor's stream (ActorTaskSubmitter.submit calls resolve_actor_args).
        self._fetch_borrowed = fetch_borrowed

    def _unready_args(self, spec: pb.TaskSpec) -> list[bytes]:
        """The top-level argument refs owned by this process that are not ready yet."""
        assert self._memory_store is not None
        me = self._ctx.worker_id
        ready = self._memory_store.get_if_ready
        out = []
        for a in spec.args:
            if a.WhichOneof("kind") == "ref" and a.ref.owner.worker_id == me and ready(a.ref.object_id) is None:
                out.append(a.ref.object_id)
        for kw in spec.kwargs:
            a = kw.arg
            if a.WhichOneof("kind") == "ref" and a.ref.owner.worker_id == me and ready(a.ref.object_id) is None:
                out.append(a.ref.object_id)
        return out

    def resolve_actor_args(self, task: PendingTask, on_ready: Callable[[], None]) -> bool:
        """(On the loop.) Whether an actor call must wait for top-level argument refs (owned
        here or borrowed) that are not ready; if so ``on_ready`` is called on the loop, once,
        when all are (value or error). Borrowed ones are fetched from their owners meanwhile."""
        store = self._memory_store
        if store is None:
            return False
        ready = store.get_if_ready
        waiting: list[bytes] = []
        borrowed: list[ObjectRef] = []
        me = self._ctx.worker_id
        spec = task.spec
        for a in itertools.chain(spec.args, (kw.arg for kw in spec.kwargs)):
            if a.WhichOneof("kind") != "ref" or ready(a.ref.object_id) is not None:
                continue
            waiting.append(a.ref.object_id)
            if a.ref.owner.worker_id != me:
                borrowed.append(ObjectRef(a.ref.object_id, a.ref.owner, _counted=False))
        if not waiting:
            return False
        if borrowed and self._fetch_borrowed is not None:
            self._fetch_borrowed(borrowed)
        left = [len(waiting)]
        loop = self._io.loop

        def one_ready() -> None:  # on the loop
            left[0] -= 1
            if left[0] == 0:
                on_ready()

        def entry_ready(_entry: object) -> None:
            # Always through the loop's queue: set() may run on another thread or inside submit().
            loop.call_soon_threadsafe(one_ready)

        for oid in waiting:
            store.on_ready(oid, entry_ready)
        return True

    def _wait_args(self, task: PendingTask, waiting: list[bytes]) -> None:
        """(On the loop.) Queue ``task`` once every object of ``waiting`` is ready (value or error)."""
        assert self._memory_store is not None
        left = [len(waiting)]

        def one_ready() -> None:  # on the loop
            left[0] -= 1
            if left[0] == 0:
                if self._events is not None:
                    self._events.owner_released(task.spec)
                self._submitter.release(task)

        def ready(_entry: object) -> None:
            # Always through the loop's queue: set() may run inside a task's completion on the loop.
            self._io.loop.call_soon_threadsafe(one_ready)

        for oid in waiting:
            self._memory_store.on_ready(oid, ready)

    def build_args(self, spec: pb.TaskSpec, args: tuple, kwargs: dict, target: int, held: list) -> list[bytes]:
        """Encode arguments into spec; returns the object ids the task references.

        ObjectRefs at top level are passed by reference (resolved before the
        call); large values are put into the store and passed by reference.
        ``held`` collects what keeps those references alive until submission.
        """
        ids: list[bytes] = []
        codec = self._codec

        def one(value: Any, path: str) -> pb.TaskArg:
            if isinstance(value, ObjectRef):
                held.append(value)
                ids.append(value.binary())
                return pb.TaskArg(ref=value.to_proto())
            try:
                enc = codec.encode(value, target, path)
            except envelope.XlangTypeError:
                raise
            except Exception as e:
                raise TypeError(f"{path} of {spec.name} cannot be serialized: a value of type "
                                f"{type(value).__module__}.{type(value).__qualname__} ({e})") from e
            if not travels_inline(enc.size):
                ref = self._owned.put_encoded(enc)
                held.append(ref)
                ids.append(ref.binary())
                return pb.TaskArg(ref=ref.to_proto())
            for r in enc.nested_refs:
                ids.append(r.object_id)
            held.append(codec.hold_nested(enc.nested_refs))
            return pb.TaskArg(value=enc.to_proto(), nested_refs=enc.nested_refs)

        for i, a in enumerate(args):
            spec.args.append(one(a, f"argument {i}"))
        for name, v in kwargs.items():
            spec.kwargs.append(pb.KeywordArg(name=name, arg=one(v, f"keyword argument {name!r}")))
        return ids

    def new_task_spec(self, task_type: pb.TaskType, language: pb.Language, function: pb.FunctionDescriptor,
                      name: str) -> pb.TaskSpec:
        """A TaskSpec with a fresh task id and the fields every spec of this process shares."""
        ctx = self._ctx
        template = self._spec_template
        if template is None or template.caller.port != ctx.address.port:
            # The fields every spec of this process shares, copied in one step.
            template = pb.TaskSpec(job_id=ctx.job_id, caller=ctx.address, caller_language=pb.PYTHON)
            template.code_search_path.extend(ctx.code_search_path)
            template.runtime_env = ctx.runtime_env
            self._spec_template = template
        spec = pb.TaskSpec()
        spec.CopyFrom(template)
        spec.type = task_type
        spec.language = language
        spec.function.CopyFrom(function)
        spec.task_id = _task_ids.next(ctx.job_id)
        spec.parent_task_id = ctx.current_task_id()
        spec.name = name
        return spec

    def submit_task(self, spec: pb.TaskSpec, arg_ids: list[bytes], held: list) -> list[ObjectRef]:
        """Submit a normal task; returns its return refs (owned here)."""
        refs = self.return_refs(spec)
        if arg_ids:
            self._references.add_submitted(arg_ids)
        task = PendingTask(spec, arg_ids, scheduling_key(spec))
        if self._events is not None:
            self._io.call_soon(self._queue_normal, task, time.time_ns())
        else:
            self._io.call_soon(self._queue_normal, task)
        del held  # arguments are now counted as submitted
        return refs

    def submit_actor_task(self, spec: pb.TaskSpec, arg_ids: list[bytes]) -> list[ObjectRef]:
        """Submit an actor method call in order; returns its return refs."""
        with self._seq_lock:
            seq = self._actor_seq.get(spec.actor_id, 0) + 1
            self._actor_seq[spec.actor_id] = seq
            spec.sequence_no = seq
            spec.caller_worker_id = self._ctx.worker_id
            refs = self.return_refs(spec)
            if arg_ids:
                self._references.add_submitted(arg_ids)
            # Under the lock, so calls reach the loop in sequence order.
            if self._events is not None:
                self._io.call_soon(self._queue_actor, PendingTask(spec, arg_ids, ()), time.time_ns())
            else:
                self._io.call_soon(self._queue_actor, PendingTask(spec, arg_ids, ()))
        return refs

    def return_refs(self, spec: pb.TaskSpec) -> list[ObjectRef]:
        """The ObjectRefs of a task's returns, owned by this process."""
        tid = spec.task_id
        oids = [return_id(tid, i) for i in range(1, spec.num_returns + 1)]
        core = object_ref.get_core()
        if core is None or core.references is not self._references:
            refs = []
            for oid in oids:
                self._references.add_owned(oid)
                refs.append(ObjectRef(oid, None))
            return refs
        # Owned and locally referenced in one step (one lock round trip).
        self._references.add_owned_local(oids)
        refs = [ObjectRef(oid, None, _counted=False) for oid in oids]
        for r in refs:
            r._core = core
        return refs

    def create_actor(self, spec: pb.TaskSpec) -> None:
        """Register an actor with the GCS, which creates it."""
        if self._events is not None:
            self._events.submitted(spec)
        try:
            self._io.rpc(lambda: self._connections.gcs.RegisterActor(
                gcs.RegisterActorRequest(creation_task=spec), timeout=RPC_TIMEOUT), timeout=RPC_TIMEOUT + 5)
        except grpc.aio.AioRpcError as e:
            if e.code() in (grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.INVALID_ARGUMENT):
                raise ValueError(e.details()) from None
            raise

    def new_actor_id(self) -> bytes:
        """A fresh actor id of this job."""
        return ActorID.of(JobID.from_binary(self._ctx.job_id)).binary()

    def cancel(self, ref: ObjectRef, force: bool, recursive: bool = True) -> None:
        """Cancel the task that returns ``ref`` (queued or running). A ref this process only
        borrows: its owner is asked, and forwards the cancel to the worker that runs it."""
        task_id = ObjectID.from_binary(ref.binary()).task_id().binary()
        owner = ref.owner_address()
        if owner is not None and owner.worker_id and owner.worker_id != self._ctx.worker_id:
            self._io.run(self._ask_owner(owner, task_id, force, recursive), timeout=RPC_TIMEOUT)
            return
        found = self._io.run(self.cancel_owned(task_id, force, recursive), timeout=RPC_TIMEOUT)
        if found == "actor-force":
            raise ValueError("force=True is not supported for actor tasks (as in Ray): use kill() on the actor")

    async def _ask_owner(self, owner: pb.Address, task_id: bytes, force: bool, recursive: bool) -> None:
        try:
            await self._connections.worker(owner).CancelTask(
                cw.CancelTaskRequest(task_id=task_id, force=force, recursive=recursive), timeout=RPC_TIMEOUT)
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise ValueError(e.details()) from None
            # An owner that is gone: its task's returns fail with OwnerDiedError anyway.

    async def cancel_owned(self, task_id: bytes, force: bool, recursive: bool) -> bool | str:
        """(On the loop.) Cancel a task this process submitted. False: not one of its tasks
        (unknown or finished); "actor-force": an actor call with force=True, refused."""
        if await self._submitter.cancel(task_id, force, recursive):
            return True
        if not self._actor_submitter.knows(task_id):
            return False
        if force:
            return "actor-force"
        await self._cancel_actor_call(task_id, recursive)
        return True

    async def _cancel_actor_call(self, task_id: bytes, recursive: bool) -> None:
        """Cancel an actor call of this caller: dropped if not sent yet, else the actor is asked."""
        found = self._actor_submitter.cancel(task_id)
        if isinstance(found, pb.Address):
            try:
                await self._connections.worker(found).CancelTask(
                    cw.CancelTaskRequest(task_id=task_id, recursive=recursive), timeout=RPC_TIMEOUT)
            except grpc.aio.AioRpcError:
                pass  # the actor is gone: the call fails with ActorDiedError

    async def cancel_children(self, parent_task_id: bytes, force: bool) -> None:
        """(On the loop.) Ray's recursive cancel: the tasks submitted by a task of this worker that
        was cancelled, normal tasks (with ``force``) and actor calls (never forced, as Ray's
        CancelChildren: a call not sent is dropped, a sent one is cancelled by its actor, recursively)."""
        await self._submitter.cancel_children(parent_task_id, force)
        for task_id in self._actor_submitter.children_of(parent_task_id):
            await self._cancel_actor_call(task_id, recursive=True)

    def kill_actor(self, actor_id: bytes, no_restart: bool) -> None:
        """Ask the GCS to kill an actor (and not restart it when ``no_restart``)."""
        try:
            self._io.rpc(lambda: self._connections.gcs.KillActor(
                gcs.KillActorRequest(actor_id=actor_id, no_restart=no_restart), timeout=RPC_TIMEOUT),
                timeout=RPC_TIMEOUT + 5)
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                raise ValueError(f"no actor {actor_id.hex()}") from None
            raise
