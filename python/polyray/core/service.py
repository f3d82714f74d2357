"""The CoreWorkerService of a Python process: what other processes ask of it.

Callers push tasks (executed by the TaskExecutor, results streamed back as
they finish); borrowers ask the owner for objects and report their borrows;
callers cancel tasks; the raylet or GCS tells a worker to exit.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING

from polyray.core import errors
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import core_worker_pb2_grpc as cw_grpc

if TYPE_CHECKING:
    from polyray.core.core_worker import CoreWorker


class CoreWorkerService(cw_grpc.CoreWorkerServiceServicer):
    """The CoreWorkerService of this process."""

    def __init__(self, core: "CoreWorker") -> None:
        self._core = core

    async def PushTasks(self, request_iterator, context):
        core = self._core
        loop = asyncio.get_running_loop()
        out: asyncio.Queue = asyncio.Queue()
        state = {"pending": 0, "closed": False}

        def reply(result: cw.TaskResult) -> None:
            # From the executing thread: one loop wake-up per batch of results.
            core.call_soon(out.put_nowait, result)

        async def reader() -> None:
            try:
                async for req in request_iterator:
                    for spec in req.tasks:
                        state["pending"] += 1
                        core.executor.enqueue(spec, reply)
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
                await core.flush_borrows()
                exiting = core.executor.exiting
                if exiting:
                    for r in batch:
                        r.worker_exiting = True
                yield cw.PushTasksReply(results=batch)
                if exiting:
                    loop.call_later(0.1, exit_process)
        finally:
            reader_task.cancel()

    async def GetObject(self, request, context):
        core = self._core
        oid = request.object_id
        entry = core.memory_store.get_if_ready(oid)
        if entry is None:
            if not core.references.is_owned(oid) and not core.memory_store.contains(oid):
                return cw.GetObjectReply(found=False, failure=errors.system_record(
                    pb.OBJECT_LOST, f"object {oid.hex()} is not owned by worker {core.worker_id.hex()[:12]} "
                                    "(already freed, or never existed)"))
            fut = core.memory_store.future(oid, asyncio.get_running_loop())
            timeout = None if request.timeout_ms < 0 else request.timeout_ms / 1000
            try:
                entry = await asyncio.wait_for(fut, timeout)
            except asyncio.TimeoutError:
                return cw.GetObjectReply(timed_out=True)
        if entry.error is not None:
            return cw.GetObjectReply(found=True, object=pb.ReturnObject(
                object_id=oid, value=pb.Envelope(format=pb.FORMAT_ERROR, body=entry.error.SerializeToString())))
        if entry.envelope is not None:
            return cw.GetObjectReply(found=True, object=pb.ReturnObject(object_id=oid, value=entry.envelope, size=entry.size))
        return cw.GetObjectReply(found=True, object=pb.ReturnObject(object_id=oid, in_store_node=entry.in_store_node,
                                                                    size=entry.size),
                                 locations=core.locations_of(oid, entry.in_store_node))

    async def UpdateBorrows(self, request, context):
        self._core.references.update_borrowers(request.borrower.worker_id, list(request.added), list(request.removed))
        return cw.UpdateBorrowsReply()

    async def AddObjectLocation(self, request, context):
        """A node now holds a copy of an object this process owns."""
        self._core.add_location(request.object_id, request.node_id)
        return cw.AddObjectLocationReply()

    async def CancelTask(self, request, context):
        attempted = self._core.executor.cancel(request.task_id, request.force)
        return cw.CancelTaskReply(attempted=attempted)

    async def Exit(self, request, context):
        core = self._core
        if core.is_driver:
            return cw.ExitReply(accepted=False)
        asyncio.get_running_loop().call_later(0.05, exit_process)
        return cw.ExitReply(accepted=True)


def exit_process() -> None:
    """Leave now, output flushed (after the reply that says so went out)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
