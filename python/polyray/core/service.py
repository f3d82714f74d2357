"""The CoreWorkerService of a Python process: what other processes ask of it.

Callers push tasks (executed by the TaskExecutor, results streamed back as
they finish); borrowers ask the owner for objects and report their borrows;
callers cancel tasks; the raylet or GCS tells a worker to exit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from polyray.core import errors
from polyray.core.borrow_tracker import BorrowTracker
from polyray.core.io_loop import IoLoop
from polyray.core.memory_store import MemoryStore
from polyray.core.object_getter import ObjectGetter
from polyray.core.owned_objects import OwnedObjects
from polyray.core.reference_counter import ReferenceCounter
from polyray.core.task_executor import TaskExecutor
from polyray.core.worker_context import WorkerContext
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import core_worker_pb2_grpc as cw_grpc
from polyray.protocol import lease_proof, validation
from polyray.protocol.rpc_guard import Malformed, guard_unary, safe_deserializer
from polyray.protocol.runtime_spec import IDLE_EXIT_ANSWER_MS, STATE_MAX_OBJECT_REFS_PER_REPLY
from polyray.protocol.validation import InvalidInput

log = logging.getLogger(__name__)


class CoreWorkerService(cw_grpc.CoreWorkerServiceServicer):
    """The CoreWorkerService of this process."""

    def __init__(self, *, ctx: WorkerContext, io: IoLoop, executor: TaskExecutor, memory_store: MemoryStore,
                 references: ReferenceCounter, owned: OwnedObjects, getter: ObjectGetter,
                 borrows: BorrowTracker) -> None:
        self._ctx = ctx
        self._io = io
        self._executor = executor
        self._memory_store = memory_store
        self._references = references
        self._owned = owned
        self._getter = getter
        self._borrows = borrows
        #: (task id, force, recursive) -> cancel a task this process submitted (True), an actor call
        #: with force (the string "actor-force": refused), or False when it is not one of them.
        self.cancel_owned: Callable[[bytes, bool, bool], Awaitable[bool | str]] | None = None
        #: (parent task id, force): cancel the tasks submitted by a task this process runs.
        self.cancel_children: Callable[[bytes, bool], Awaitable[None]] | None = None

    async def PushTasks(self, request_iterator, context):
        if self._ctx.is_driver:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "a driver runs no tasks")
        io = self._io
        executor = self._executor
        loop = asyncio.get_running_loop()
        out: asyncio.Queue = asyncio.Queue()
        state = {"pending": 0, "closed": False}

        def reply(result: cw.TaskResult) -> None:
            # From the executing thread: one loop wake-up per batch of results.
            io.call_soon(out.put_nowait, result)

        worker = self._ctx.worker_id.hex()[:12]
        bad: list[str] = []

        guard = lease_proof.GUARD
        stream_lease = lease_proof.StreamLease()

        async def reader() -> None:
            nonlocal stream_lease
            try:
                async for req in request_iterator:
                    if isinstance(req, Malformed):
                        bad.append(f"malformed PushTasksRequest: {req.error}")
                        return
                    try:
                        validation.check_push(req)
                    except InvalidInput as e:
                        bad.append(str(e))
                        return
                    if req.HasField("lease"):
                        stream_lease = guard.open(req, stream_lease)
                    for spec in req.tasks:
                        try:
                            validation.check_task_spec(spec)
                        except InvalidInput as e:
                            if not validation.task_addressable(spec):
                                bad.append(f"a task that cannot be answered: {e}")
                                return
                            log.warning("worker %s: rejecting task %s: %s", worker, spec.task_id.hex(), e)
                            state["pending"] += 1
                            out.put_nowait(validation.invalid_task_result(spec, e, worker))
                            continue
                        if guard.key is not None:
                            why = guard.refusal(stream_lease, spec)
                            if why is not None:
                                log.warning("worker %s: refusing task %s: %s", worker, spec.task_id.hex(), why)
                                state["pending"] += 1
                                out.put_nowait(lease_proof.refused_result(spec, why, worker))
                                continue
                        state["pending"] += 1
                        executor.enqueue(spec, reply)
            finally:
                state["closed"] = True
                out.put_nowait(None)

        reader_task = asyncio.ensure_future(reader())
        try:
            while True:
                if bad:
                    # Results of tasks already taken are lost with the
                    # stream, as when a stream breaks; the caller retries.
                    log.warning("worker %s: closing a PushTasks stream: %s", worker, bad[0])
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, bad[0])
                if state["closed"] and state["pending"] == 0:
                    return
                item = await out.get()
                if item is None:
                    continue
                batch = [item]
                while not out.empty():
                    nxt = out.get_nowait()
                    if nxt is not None:
                        batch.append(nxt)
                state["pending"] -= sum(1 for r in batch if not r.generator_item)  # items precede their task's end
                # Borrow registrations made while running must reach owners
                # before the caller learns the task is done.
                await self._borrows.flush()
                exiting = executor.exiting
                if exiting:
                    for r in batch:
                        r.worker_exiting = True
                yield cw.PushTasksReply(results=batch)
                if exiting:
                    loop.call_later(0.1, exit_process)
        finally:
            reader_task.cancel()

    async def GetObject(self, request, context):
        validation.check_id(request.object_id, "GetObjectRequest.object_id", validation.OBJECT)
        store = self._memory_store
        oid = request.object_id
        entry = store.get_if_ready(oid)
        if entry is None:
            if not self._references.is_owned(oid) and not store.contains(oid):
                return cw.GetObjectReply(found=False, failure=errors.system_record(
                    pb.OBJECT_LOST, f"object {oid.hex()} is not owned by worker {self._ctx.worker_id.hex()[:12]} "
                                    "(already freed, or never existed)"))
            fut = store.future(oid, asyncio.get_running_loop())
            timeout = None if request.timeout_ms < 0 else request.timeout_ms / 1000
            try:
                entry = await asyncio.wait_for(fut, timeout)
            except asyncio.TimeoutError:
                return cw.GetObjectReply(timed_out=True)
        if request.lost and await self._getter.recover_lost(oid, entry):
            # No copy is left: it is being recomputed (or is lost for good); answer with what comes.
            return await self.GetObject(cw.GetObjectRequest(object_id=oid, timeout_ms=request.timeout_ms), context)
        return self._object_reply(oid, entry)

    def _object_reply(self, oid: bytes, entry: Any) -> cw.GetObjectReply:
        if entry.error is not None:
            return cw.GetObjectReply(found=True, object=pb.ReturnObject(
                object_id=oid, value=pb.Envelope(format=pb.FORMAT_ERROR, body=entry.error.SerializeToString())))
        if entry.envelope is not None:
            return cw.GetObjectReply(found=True, object=pb.ReturnObject(object_id=oid, value=entry.envelope,
                                                                        size=entry.size))
        return cw.GetObjectReply(found=True, object=pb.ReturnObject(object_id=oid, in_store_node=entry.in_store_node,
                                                                    size=entry.size),
                                 locations=self._getter.locations_of(oid, entry.in_store_node))

    async def GetObjects(self, request, context):
        """Many objects in one call: every ready id at once; when none is ready,
        the first that becomes ready (or an empty reply after timeout_ms)."""
        validation.check_message(request)
        store = self._memory_store
        ids = list(dict.fromkeys(request.object_ids))
        lost = set(request.lost)
        reply = cw.GetObjectsReply()
        waiting: list[bytes] = []
        for oid in ids:
            entry = store.get_if_ready(oid)
            if entry is not None and oid in lost and await self._getter.recover_lost(oid, entry):
                entry = store.get_if_ready(oid)  # being recomputed: answered when it is ready
            if entry is not None:
                reply.object_ids.append(oid)
                reply.objects.append(self._object_reply(oid, entry))
            elif not self._references.is_owned(oid) and not store.contains(oid):
                reply.object_ids.append(oid)
                reply.objects.append(cw.GetObjectReply(found=False, failure=errors.system_record(
                    pb.OBJECT_LOST, f"object {oid.hex()} is not owned by worker {self._ctx.worker_id.hex()[:12]} "
                                    "(already freed, or never existed)")))
            else:
                waiting.append(oid)
        if reply.object_ids or not waiting:
            return reply
        loop = asyncio.get_running_loop()
        first: asyncio.Future = loop.create_future()

        def wake() -> None:
            if not first.done():
                first.set_result(None)

        def on_ready(_entry: Any) -> None:
            loop.call_soon_threadsafe(wake)

        for oid in waiting:
            store.on_ready(oid, on_ready)
        timeout = None if request.timeout_ms < 0 else request.timeout_ms / 1000
        try:
            await asyncio.wait_for(first, timeout)
        except asyncio.TimeoutError:
            return reply  # none ready in time: the caller asks again
        await asyncio.sleep(0)  # objects made ready in the same burst go too
        for oid in waiting:
            entry = store.get_if_ready(oid)
            if entry is not None:
                reply.object_ids.append(oid)
                reply.objects.append(self._object_reply(oid, entry))
        return reply

    async def UpdateBorrows(self, request, context):
        validation.check_message(request)
        validation.check_id(request.borrower.worker_id, "UpdateBorrowsRequest.borrower.worker_id", validation.WORKER)
        lender = request.lender if request.HasField("lender") and request.lender.worker_id else None
        self._references.update_borrowers(request.borrower.worker_id, list(request.added), list(request.removed),
                                          list(request.lent), list(request.lent_received), address=request.borrower,
                                          lender=lender, acked_lenders=list(request.lent_received_lenders))
        return cw.UpdateBorrowsReply()

    async def AddObjectLocation(self, request, context):
        """A node now holds a copy of an object this process owns."""
        validation.check_id(request.object_id, "AddObjectLocationRequest.object_id", validation.OBJECT)
        validation.check_id(request.node_id, "AddObjectLocationRequest.node_id", validation.NODE)
        self._owned.add_location(request.object_id, request.node_id)
        return cw.AddObjectLocationReply()

    async def CancelTask(self, request, context):
        """From a caller (this process runs the task) or a borrower of its return (this process
        owns it: the cancel goes on to the worker that runs it, as Ray's owner does)."""
        validation.check_id(request.task_id, "CancelTaskRequest.task_id", validation.TASK)
        if self.cancel_owned is not None:
            found = await self.cancel_owned(request.task_id, request.force, request.recursive)
            if found == "actor-force":
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                    "force=True is not supported for actor tasks (as in Ray): use kill() on the actor")
            if found:
                return cw.CancelTaskReply(attempted=True)
        children = self.cancel_children if request.recursive else None
        if children is not None and request.force:
            await children(request.task_id, True)  # before the forced cancel ends this process
        # Else the task first: interrupted while it waits for a child, not failed by the child's cancel.
        attempted = self._executor.cancel(request.task_id, request.force)
        if children is not None and not request.force:
            await children(request.task_id, False)
        return cw.CancelTaskReply(attempted=attempted)

    async def Exit(self, request, context):
        validation.check_message(request)
        if self._ctx.is_driver:
            return cw.ExitReply(accepted=False, reason="a driver does not exit on request")
        if not request.force:
            # The raylet's idle reaper: an owner of objects others still hold,
            # or a holder of borrowed ones, stays (docs/ownership.md,
            # "Workers that own objects").
            why = self._references.why_not_exit()
            if why:
                return cw.ExitReply(accepted=False, reason=f"this worker {why}")
        # Borrows returned but not yet told to their owners go out first.
        try:
            await asyncio.wait_for(self._borrows.flush(), timeout=IDLE_EXIT_ANSWER_MS / 2000)
        except asyncio.TimeoutError:
            log.warning("borrow updates still unsent when leaving; their owners see this worker exit")
        asyncio.get_running_loop().call_later(0.05, exit_process)
        return cw.ExitReply(accepted=True)


    async def GetObjectRefs(self, request, context):
        """(State API.) A page of the references counted here, owned and borrowed, in object id order."""
        validation.check_message(request)
        validation.check_id(request.page_token, "GetObjectRefsRequest.page_token", validation.OBJECT, optional=True)
        return object_refs_reply(self._ctx, self._references, self._memory_store, self._getter.locations_of,
                                 request.limit, request.page_token)


def object_refs_reply(ctx: WorkerContext, references: ReferenceCounter, memory_store: MemoryStore,
                      locations_of: Any, limit: int, page_token: bytes) -> cw.GetObjectRefsReply:
    """GetObjectRefs's answer from this process's counts and memory store
    (``locations_of(oid, primary)``: every node known to hold a copy)."""
    cap = STATE_MAX_OBJECT_REFS_PER_REPLY
    n = cap if limit <= 0 or limit > cap else limit
    total, rows = references.listing(page_token, n + 1)
    more = len(rows) > n
    rows = rows[:n]
    reply = cw.GetObjectRefsReply(address=ctx.address, pid=os.getpid(), language=pb.PYTHON,
                                  is_driver=ctx.is_driver, total=total)
    for oid, r in rows:
        info = reply.objects.add(object_id=oid, owned=r["owned"], local_refs=r["local"],
                                 submitted_task_refs=r["submitted"], borrowers=r["borrowers"],
                                 contained_in=r["contained_in"], lent=r["lent"], size=-1)
        if not r["owned"] and r["owner"] is not None:
            info.owner.CopyFrom(r["owner"])
        entry = memory_store.get_if_ready(oid)
        if entry is None:
            info.status = cw.OBJECT_PENDING
            if r["in_store_node"]:
                info.locations.append(r["in_store_node"])
        elif entry.error is not None:
            info.status = cw.OBJECT_FAILED
        else:
            info.status = cw.OBJECT_READY
            info.size = entry.size
            if entry.in_store_node:
                info.locations.extend(locations_of(oid, entry.in_store_node))
    if more:
        reply.next_page_token = rows[-1][0]
    return reply


def add_to_server(service: CoreWorkerService, server: grpc.aio.Server) -> None:
    """Serve every CoreWorkerService method: a request that does not decode or
    fails its check is answered INVALID_ARGUMENT naming the field (gRPC's own
    deserializer would answer INTERNAL), and the process keeps serving."""
    desc = cw.DESCRIPTOR.services_by_name["CoreWorkerService"]
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    for method in desc.methods:
        request_cls = getattr(cw, method.input_type.name)
        reply_cls = getattr(cw, method.output_type.name)
        impl = getattr(service, method.name)
        if method.client_streaming:
            handlers[method.name] = grpc.stream_stream_rpc_method_handler(
                impl, request_deserializer=safe_deserializer(request_cls),
                response_serializer=reply_cls.SerializeToString)
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                guard_unary("CoreWorkerService", method.name, impl, (InvalidInput,)),
                request_deserializer=safe_deserializer(request_cls),
                response_serializer=reply_cls.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(desc.full_name, handlers),))


def exit_process() -> None:
    """Leave now, output flushed (after the reply that says so went out)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
