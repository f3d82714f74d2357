"""The CoreWorker's submission side: task specs, arguments, return refs, results.

A mixin of :class:`~polyray.core.core_worker.CoreWorker`. User threads build
a TaskSpec (``new_task_spec``, ``build_args``) and submit it; the spec is
handed to the event loop (one wake-up per batch, see ``CoreWorker.call_soon``),
where the normal-task and actor submitters push it. Results come back on the
loop (``complete_task``, ``fail_task``).
"""

from __future__ import annotations

import itertools
import os
import struct
from typing import Any, Iterable

import grpc

from polyray.core import object_ref
from polyray.core.object_ref import ObjectRef
from polyray.core.objects import INLINE_MAX
from polyray.core.rpc import RPC_TIMEOUT
from polyray.core.task_executor import current_task
from polyray.core.task_submitter import PendingTask, scheduling_key
from polyray.protocol import common_pb2 as pb
from polyray.protocol import envelope
from polyray.protocol import gcs_pb2 as gcs
from polyray.protocol.ids import ActorID, JobID, ObjectID

_U32 = struct.Struct("<I")


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


class SubmissionMixin:
    """Task submission of a CoreWorker (see module docstring)."""

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
        template = self._spec_template
        if template is None or template.caller.port != self.address.port:
            # The fields every spec of this process shares, copied in one step.
            template = pb.TaskSpec(job_id=self.job_id, caller=self.address, caller_language=pb.PYTHON)
            template.code_search_path.extend(self.code_search_path)
            self._spec_template = template
        spec = pb.TaskSpec()
        spec.CopyFrom(template)
        spec.type = task_type
        spec.language = language
        spec.function.CopyFrom(function)
        spec.task_id = _task_ids.next(self.job_id)
        spec.parent_task_id = (current_task.get() or self._driver_task).task_id
        spec.name = name
        return spec

    def submit_task(self, spec: pb.TaskSpec, arg_ids: list[bytes], held: list) -> list[ObjectRef]:
        """Submit a normal task; returns its return refs (owned here)."""
        refs = self._return_refs(spec)
        if arg_ids:
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
            if arg_ids:
                self.references.add_submitted(arg_ids)
            # Under the lock, so calls reach the loop in sequence order.
            self.call_soon(self.actor_submitter.submit, PendingTask(spec, arg_ids, ()))
        return refs

    def _return_refs(self, spec: pb.TaskSpec) -> list[ObjectRef]:
        tid = spec.task_id
        oids = [tid + _U32.pack(i) for i in range(1, spec.num_returns + 1)]
        if object_ref.get_core() is not self:
            refs = []
            for oid in oids:
                self.references.add_owned(oid)
                refs.append(ObjectRef(oid, None))
            return refs
        # Owned and locally referenced in one step (one lock round trip).
        self.references.add_owned_local(oids)
        refs = [ObjectRef(oid, None, _counted=False) for oid in oids]
        for r in refs:
            r._core = self
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
        if arg_ids:
            self.references.remove_submitted(arg_ids)

    def fail_task(self, spec: pb.TaskSpec, record: pb.ErrorRecord, arg_ids: list[bytes]) -> None:
        """Complete every return of a task with an error."""
        tid = spec.task_id
        for i in range(1, spec.num_returns + 1):
            oid = tid + _U32.pack(i)
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
        return ActorID.of(JobID.from_binary(self.job_id)).binary()

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
