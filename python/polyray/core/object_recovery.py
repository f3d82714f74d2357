"""Recomputing lost objects from their lineage (the owner's side).

When a get() of an object this process owns finds every copy gone (the
node that held it died, or the copy was evicted), or a borrower's GetObject
finds so, ObjectRecovery makes the object come back: it resubmits the task
that created it (from the LineageTable) as a new attempt, counted against
the task's ``max_retries``, through the normal task submitter's public
``submit``. Before that it checks the task's arguments this process owns and
recomputes, recursively, those whose copies are gone too. The returns of the
task are reset in the memory store, so every waiting get() sees the new value
when the task completes (OwnedObjects.complete records it again).

An object that cannot come back is completed with an OBJECT_LOST error whose
reason says why: REASON_PUT (made by put: no lineage), REASON_LINEAGE_EVICTED
(its lineage was dropped to keep the bound), REASON_RETRIES_EXHAUSTED (its
task's max_retries are used up, or the re-run failed after its retries).

Invariants: one reconstruction per task at a time (LineageTable.begin_recovery
merges concurrent ones); arguments resubmitted are pinned ("submitted") until
the task's submitter reports it finished; runs on the CoreWorker's loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc

from polyray.core import errors
from polyray.core.lineage import LineageTable, is_put_id
from polyray.core.memory_store import Entry, MemoryStore
from polyray.core.pending_task import PendingTask
from polyray.core.reference_counter import ReferenceCounter
from polyray.core.submit_policy import can_retry
from polyray.protocol import common_pb2 as pb
from polyray.protocol import raylet_pb2 as rl

#: How long a probe of one copy (does this raylet still hold it?) may take.
PROBE_TIMEOUT_S = 3.0
#: How long recomputing one argument may take before the task fails with it lost.
ARG_WAIT_S = 300.0


def return_ids(spec: pb.TaskSpec) -> list[bytes]:
    return [spec.task_id + i.to_bytes(4, "little") for i in range(1, spec.num_returns + 1)]


def lost_record(oid: bytes, reason: int, message: str, cause: pb.ErrorRecord | None = None) -> pb.ErrorRecord:
    """An OBJECT_LOST error value with its reason."""
    record = errors.system_record(pb.OBJECT_LOST, message, cause=cause)
    record.reason = reason  # type: ignore[assignment]
    return record


class ObjectRecovery:
    """Resubmits the creating task of a lost owned object (see module docstring)."""

    def __init__(self, *, lineage: LineageTable, memory_store: MemoryStore, references: ReferenceCounter,
                 submit: Callable[[PendingTask], None], scheduling_key: Callable[[pb.TaskSpec], tuple],
                 locations_of: Callable[[bytes, bytes], list[bytes]],
                 copy_exists: Callable[[bytes, bytes], object]) -> None:
        self._lineage = lineage
        self._memory_store = memory_store
        self._references = references
        self._submit = submit
        self._scheduling_key = scheduling_key
        self._locations_of = locations_of
        # async (oid, node_id) -> bool: does that node's store still hold the object?
        self.copy_exists = copy_exists
        #: Tasks resubmitted to recompute lost objects (for tests and stats).
        self.resubmitted = 0

    async def recover(self, oid: bytes, seen: Entry | None = None) -> None:
        """``oid`` (owned here) has no readable copy: recompute it, or complete it with its loss.

        ``seen`` is the entry the caller found lost; if the memory store holds
        another by now, someone else already handled it and nothing is done."""
        store = self._memory_store
        current = store.get_if_ready(oid)
        if seen is not None and current is not seen:
            return
        if current is not None and (current.error is not None or current.envelope is not None):
            return  # an inline value or an error: nothing to recompute
        if not self._references.is_owned(oid):
            return
        tid = oid[:24]
        if is_put_id(oid):
            self._lose(oid, pb.REASON_PUT, f"object {oid.hex()} was created by put() and every copy of it is "
                                           "gone (its node died or it was evicted); a put cannot be recomputed")
            return
        entry = self._lineage.of_object(oid)
        if entry is None:
            if self._lineage.recovering(tid):
                return
            if self._lineage.was_evicted(oid):
                self._lose(oid, pb.REASON_LINEAGE_EVICTED,
                           f"object {oid.hex()} is lost and cannot be recomputed: the lineage of its task was "
                           f"evicted to keep lineage memory under {self._lineage.max_bytes} bytes "
                           "(POLYRAY_LINEAGE_MAX_BYTES)")
            else:
                self._lose(oid, pb.REASON_UNSPECIFIED,
                           f"object {oid.hex()} is lost and has no lineage to recompute it "
                           "(only returns of normal tasks are recomputed)")
            return
        if not self._lineage.begin_recovery(tid):
            return  # merged with the reconstruction under way
        spec = pb.TaskSpec()
        spec.CopyFrom(entry.spec)
        returns = return_ids(spec)
        if not can_retry(spec.attempt, spec.max_retries):
            self._lineage.end_recovery(tid)
            for rid in returns:
                self._lose(rid, pb.REASON_RETRIES_EXHAUSTED,
                           f"object {rid.hex()} is lost and cannot be recomputed: its task {spec.name or '?'} "
                           f"has run {spec.attempt + 1} time(s) and max_retries={spec.max_retries}",
                           only_stored=True)
            return
        spec.attempt += 1
        for rid in returns:
            e = store.get_if_ready(rid)
            if e is not None and e.in_store_node and e.error is None and e.envelope is None:
                store.delete(rid)
        store.delete(oid)
        failure = await self._restore_args(entry.arg_ids)
        if failure is not None:
            self._lineage.end_recovery(tid)
            for rid in returns:
                if self._references.is_owned(rid):
                    store.set(rid, error=lost_record(
                        rid, pb.REASON_RETRIES_EXHAUSTED,
                        f"object {rid.hex()} is lost: an argument of its task {spec.name or '?'} could not be "
                        "recomputed", cause=failure))
            return
        self._references.add_submitted(list(entry.arg_ids))
        self.resubmitted += 1
        self._submit(PendingTask(spec, list(entry.arg_ids), self._scheduling_key(spec)))

    async def _restore_args(self, arg_ids: list[bytes]) -> pb.ErrorRecord | None:
        """Recompute the owned arguments whose copies are gone; the first failure, or None."""
        lost: list[bytes] = []
        for aid in dict.fromkeys(arg_ids):
            if not self._references.is_owned(aid):
                continue  # borrowed: its owner recovers it when the task's worker asks
            e = self._memory_store.get_if_ready(aid)
            if e is None or not e.in_store_node or e.error is not None or e.envelope is not None:
                continue  # pending (being computed), inline, or an error the task will see
            alive = False
            for node in self._locations_of(aid, e.in_store_node):
                if await self.copy_exists(aid, node):  # type: ignore[misc]
                    alive = True
                    break
            if not alive:
                await self.recover(aid, e)
                lost.append(aid)
        for aid in lost:
            try:
                entry = await asyncio.wait_for(self._memory_store.future(aid, asyncio.get_running_loop()),
                                               ARG_WAIT_S)
            except asyncio.TimeoutError:
                return lost_record(aid, pb.REASON_UNSPECIFIED,
                                   f"argument {aid.hex()} was not recomputed within {ARG_WAIT_S:.0f} s")
            if entry.error is not None:
                return entry.error
        return None

    def on_finished(self, spec: pb.TaskSpec, record: pb.ErrorRecord | None) -> pb.ErrorRecord | None:
        """A task completed (record None) or failed: end its reconstruction. For a failed
        reconstruction, the error its returns get (OBJECT_LOST, REASON_RETRIES_EXHAUSTED,
        caused by the task's failure); None when it was not a reconstruction."""
        if not self._lineage.end_recovery(spec.task_id) or record is None:
            return None
        if record.kind == pb.TASK_ERROR:
            return None  # the task itself raised: its error is the value, as on the first run
        return lost_record(b"", pb.REASON_RETRIES_EXHAUSTED,
                           f"the objects of task {spec.name or spec.task_id.hex()} were lost and recomputing them "
                           f"failed after {spec.attempt + 1} run(s) (max_retries={spec.max_retries})", cause=record)

    def _lose(self, oid: bytes, reason: int, message: str, only_stored: bool = False) -> None:
        store = self._memory_store
        if not self._references.is_owned(oid):
            return
        e = store.get_if_ready(oid)
        if only_stored and e is not None and (e.envelope is not None or e.error is not None):
            return
        if e is not None:
            store.delete(oid)
        store.set(oid, error=lost_record(oid, reason, message))


async def probe_copy(*, oid: bytes, node_id: bytes, local_node: bytes, local_contains: Callable[[bytes], bool],
                     nodes: object, connections: object) -> bool:
    """Whether ``node_id``'s store still holds ``oid`` (asks its raylet for the first chunk)."""
    if node_id == local_node:
        return local_contains(oid)
    address, _ = await nodes.raylet(node_id)  # type: ignore[attr-defined]
    if address is None:
        return False
    call = connections.raylet_at(address).ReadObject(  # type: ignore[attr-defined]
        rl.ReadObjectRequest(object_id=oid, chunk_size=64, timeout_ms=0), timeout=PROBE_TIMEOUT_S)
    try:
        async for _ in call:
            return True
        return False
    except grpc.aio.AioRpcError:
        return False
    finally:
        call.cancel()
