"""The CoreWorker's execution side: task arguments in, return values out.

A mixin of :class:`~polyray.core.core_worker.CoreWorker`, used by the
TaskExecutor of a worker process: it decodes a pushed task's arguments
(getting the values of top-level refs), encodes its return values (inline or
through the store), and loads exported functions from the GCS.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

from polyray.core import errors
from polyray.core.object_ref import ObjectRef
from polyray.core.objects import INLINE_MAX
from polyray.core.rpc import RPC_TIMEOUT
from polyray.protocol import common_pb2 as pb
from polyray.protocol import envelope
from polyray.protocol import gcs_pb2 as gcs
from polyray.protocol.ids import ObjectID, TaskID


class ExecutionMixin:
    """The worker side of a CoreWorker (see module docstring)."""

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
