"""The CoreWorkerService of a Python process: what other processes ask of it.

Callers push tasks (executed by the TaskExecutor, results streamed back as
they finish); borrowers ask the owner for objects and report their borrows;
callers cancel tasks; the raylet or GCS tells a worker to exit.
"""

from __future__ import annotations

import asyncio
import os
import sys

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

    async def PushTasks(self, request_iterator, context):
        io = self._io
        executor = self._executor
        loop = asyncio.get_running_loop()
        out: asyncio.Queue = asyncio.Queue()
        state = {"pending": 0, "closed": False}

        def reply(result: cw.TaskResult) -> None:
            # From the executing thread: one loop wake-up per batch of results.
            io.call_soon(out.put_nowait, result)

        async def reader() -> None:
            try:
                async for req in request_iterator:
                    for spec in req.tasks:
                        state["pending"] += 1
                        executor.enqueue(spec, reply)
            finally:
                state["closed"] = True
                out.put_nowait(None)

        reader_task = asyncio.ensure_future(reader())
        try:
            while True:
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
                state["pending"] -= len(batch)
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
        if entry.error is not None:
            return cw.GetObjectReply(found=True, object=pb.ReturnObject(
                object_id=oid, value=pb.Envelope(format=pb.FORMAT_ERROR, body=entry.error.SerializeToString())))
        if entry.envelope is not None:
            return cw.GetObjectReply(found=True, object=pb.ReturnObject(object_id=oid, value=entry.envelope,
                                                                        size=entry.size))
        return cw.GetObjectReply(found=True, object=pb.ReturnObject(object_id=oid, in_store_node=entry.in_store_node,
                                                                    size=entry.size),
                                 locations=self._getter.locations_of(oid, entry.in_store_node))

    async def UpdateBorrows(self, request, context):
        self._references.update_borrowers(request.borrower.worker_id, list(request.added), list(request.removed))
        return cw.UpdateBorrowsReply()

    async def AddObjectLocation(self, request, context):
        """A node now holds a copy of an object this process owns."""
        self._owned.add_location(request.object_id, request.node_id)
        return cw.AddObjectLocationReply()

    async def CancelTask(self, request, context):
        attempted = self._executor.cancel(request.task_id, request.force)
        return cw.CancelTaskReply(attempted=attempted)

    async def Exit(self, request, context):
        if self._ctx.is_driver:
            return cw.ExitReply(accepted=False)
        asyncio.get_running_loop().call_later(0.05, exit_process)
        return cw.ExitReply(accepted=True)


def exit_process() -> None:
    """Leave now, output flushed (after the reply that says so went out)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
