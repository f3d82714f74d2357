"""A worker's task results: return values into ReturnObjects for the caller.

Small values travel inline in the result; larger ones are written to this
node's store, pinned by the raylet on behalf of the caller (the owner of the
returns), and the result carries where they are. Refs that this worker owns
and that travel inside a return value are lent to the caller (held on its
behalf) until it acknowledges them; other owners' refs are lent by a message
to their owner, delivered before the result is sent.

Invariants: a task with num_returns = n gets exactly n ReturnObjects, with
the ids its caller computed (task id + index); an error fills every return.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

from polyray.core.owned_objects import OwnedObjects, return_id
from polyray.core.reference_counter import ReferenceCounter
from polyray.core.rpc import RPC_TIMEOUT
from polyray.core.submit_policy import travels_inline
from polyray.core.value_codec import ValueCodec
from polyray.core.worker_context import WorkerContext
from polyray.protocol import common_pb2 as pb
from polyray.store.errors import ObjectExistsError


class ReturnEncoder:
    """Encodes a task's return values (or its error) for its caller."""

    def __init__(self, *, ctx: WorkerContext, codec: ValueCodec, owned: OwnedObjects,
                 references: ReferenceCounter) -> None:
        self._ctx = ctx
        self._codec = codec
        self._owned = owned
        self._references = references

    def encode_returns(self, spec: pb.TaskSpec, value: Any) -> list[pb.ReturnObject]:
        """The ReturnObjects of a task that returned ``value``."""
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
        out = []
        pins: list[concurrent.futures.Future] = []
        target = spec.caller_language
        worker_id = self._ctx.worker_id
        for i, v in enumerate(values, start=1):
            oid = return_id(spec.task_id, i)
            enc = self._codec.encode(v, target, f"return value {i - 1}" if n > 1 else "return value")
            lender = b""
            if enc.nested_refs:
                # Held for the caller until it acknowledges (docs/ownership.md, "The reference protocol");
                # the caller names this process (the lender) when it does.
                self._references.lend(enc.nested_refs, spec.caller, worker_id, True)
                lender = worker_id
            if travels_inline(enc.size):
                out.append(pb.ReturnObject(object_id=oid, value=enc.to_proto(), size=enc.size,
                                           nested_refs=enc.nested_refs, lender=lender))
            else:
                pinned = self._owned.put_in_store(oid, enc, spec.caller, wait=True)
                if pinned is not None:
                    pins.append(pinned)
                out.append(pb.ReturnObject(object_id=oid, in_store_node=self._ctx.node_id, size=enc.size,
                                           nested_refs=enc.nested_refs, lender=lender))
        if pins:
            # The result names the store copies only once the raylet pins them
            # (all of this task's in one call): a worker dying after its reply
            # leaves no unpinned return behind.
            # A failed call fails the task, as the synchronous pin did.
            for pinned in pins:
                pinned.result(timeout=RPC_TIMEOUT + 5)
        return out

    def encode_item(self, spec: pb.TaskSpec, k: int, value: Any) -> pb.ReturnObject:
        """Item ``k`` (0-based) a generator task yielded: a return object of index k + 2 for its caller."""
        oid = return_id(spec.task_id, k + 2)
        enc = self._codec.encode(value, spec.caller_language, f"generator item {k}")
        lender = b""
        if enc.nested_refs:
            self._references.lend(enc.nested_refs, spec.caller, self._ctx.worker_id, True)
            lender = self._ctx.worker_id
        if travels_inline(enc.size):
            return pb.ReturnObject(object_id=oid, value=enc.to_proto(), size=enc.size,
                                   nested_refs=enc.nested_refs, lender=lender)
        try:
            pinned = self._owned.put_in_store(oid, enc, spec.caller, wait=True)
        except ObjectExistsError:
            # A retry (the worker of an earlier attempt died): items are deterministic by index,
            # so the sealed copy that attempt left is this item.
            pinned = self._owned.pin_existing(oid, spec.caller)
        if pinned is not None:
            pinned.result(timeout=RPC_TIMEOUT + 5)
        return pb.ReturnObject(object_id=oid, in_store_node=self._ctx.node_id, size=enc.size,
                               nested_refs=enc.nested_refs, lender=lender)

    def error_returns(self, spec: pb.TaskSpec, record: pb.ErrorRecord) -> list[pb.ReturnObject]:
        """Every return of a task as the error ``record`` (actor creation: one)."""
        env = pb.Envelope(format=pb.FORMAT_ERROR, body=record.SerializeToString())
        n = max(spec.num_returns, 1 if spec.type == pb.ACTOR_CREATION_TASK else 0)
        return [pb.ReturnObject(object_id=return_id(spec.task_id, i), value=env) for i in range(1, n + 1)]
