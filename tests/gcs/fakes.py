"""Scripted stand-ins for a raylet and a worker: real gRPC servers on
127.0.0.1 that the GCS talks to exactly as it talks to the real ones."""

from __future__ import annotations

import asyncio
import collections
import itertools
import os
from collections.abc import AsyncIterator

import grpc

from polyray.protocol import (
    common_pb2,
    core_worker_pb2,
    core_worker_pb2_grpc,
    gcs_pb2,
    raylet_pb2,
    raylet_pb2_grpc,
)

_pids = itertools.count(40000)

# Worker behaviours for the creation task:
#   "ready"  -> actor_ready=True
#   "raise"  -> a FORMAT_ERROR return (the constructor raised)
#   "crash"  -> the stream fails (UNAVAILABLE)
#   "close"  -> the stream ends without a result
#   "hang"   -> no answer until the caller gives up
WorkerBehaviour = str

# Lease actions: "grant", "fail" (a failure record), "unavailable" (UNAVAILABLE
# status), "hang", or an ErrorRecord to return as the failure.
LeaseAction = str | common_pb2.ErrorRecord

CONSTRUCTOR_ERROR = common_pb2.ErrorRecord(
    kind=common_pb2.TASK_ERROR,
    type_name="ValueError",
    message="bad initial value",
    language=common_pb2.PYTHON,
    traceback="Traceback (most recent call last):\n  ...\nValueError: bad initial value\n",
)

LEASE_FAILURE = common_pb2.ErrorRecord(
    kind=common_pb2.RUNTIME_ERROR,
    type_name="WorkerStartError",
    message="could not start a JAVA worker: no java on PATH",
    language=common_pb2.PYTHON,
)


class FakeWorker(core_worker_pb2_grpc.CoreWorkerServiceServicer):
    """A CoreWorker that answers creation tasks as scripted and records Exit."""

    def __init__(self, node_id: bytes, behaviour: WorkerBehaviour = "ready") -> None:
        self.node_id = node_id
        self.behaviour = behaviour
        self.worker_id = os.urandom(28)
        self.pid = next(_pids)
        self.pushed: list[common_pb2.TaskSpec] = []
        self.exits: list[core_worker_pb2.ExitRequest] = []
        self.exited = asyncio.Event()
        self.port = 0
        self._server: grpc.aio.Server | None = None

    @property
    def address(self) -> common_pb2.Address:
        """Where the GCS reaches this worker."""
        return common_pb2.Address(node_id=self.node_id, host="127.0.0.1", port=self.port, worker_id=self.worker_id)

    async def start(self) -> None:
        """Serve on an ephemeral 127.0.0.1 port."""
        self._server = grpc.aio.server()
        core_worker_pb2_grpc.add_CoreWorkerServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()

    async def stop(self) -> None:
        """Stop serving (and, for a raylet, its workers)."""
        if self._server is not None:
            await self._server.stop(None)
            self._server = None

    async def PushTasks(
        self, request_iterator: AsyncIterator[core_worker_pb2.PushTasksRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[core_worker_pb2.PushTasksReply]:
        """Answer each task as the behaviour says."""
        async for request in request_iterator:
            for task in request.tasks:
                self.pushed.append(task)
                if self.behaviour == "ready":
                    yield core_worker_pb2.PushTasksReply(
                        results=[core_worker_pb2.TaskResult(task_id=task.task_id, actor_ready=True)]
                    )
                elif self.behaviour == "raise":
                    error = common_pb2.Envelope(
                        format=common_pb2.FORMAT_ERROR, body=CONSTRUCTOR_ERROR.SerializeToString()
                    )
                    ret = common_pb2.ReturnObject(object_id=task.task_id + (1).to_bytes(4, "little"), value=error)
                    yield core_worker_pb2.PushTasksReply(
                        results=[
                            core_worker_pb2.TaskResult(task_id=task.task_id, returns=[ret], is_application_error=True)
                        ]
                    )
                elif self.behaviour == "crash":
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "worker process exited")
                elif self.behaviour == "close":
                    return
                elif self.behaviour == "hang":
                    await asyncio.Event().wait()

    async def Exit(
        self, request: core_worker_pb2.ExitRequest, context: grpc.aio.ServicerContext
    ) -> core_worker_pb2.ExitReply:
        """Record the request and accept it."""
        self.exits.append(request)
        self.exited.set()
        return core_worker_pb2.ExitReply(accepted=True)


class FakeRaylet(raylet_pb2_grpc.RayletServiceServicer):
    """A raylet that grants, fails or stalls leases as scripted; each granted
    lease gets a new FakeWorker with the next scripted behaviour."""

    def __init__(self, *, worker_behaviour: WorkerBehaviour = "ready") -> None:
        self.node_id = os.urandom(28)
        self.default_worker_behaviour = worker_behaviour
        self.lease_script: collections.deque[LeaseAction] = collections.deque()
        self.worker_script: collections.deque[WorkerBehaviour] = collections.deque()
        self.lease_requests: list[raylet_pb2.RequestWorkerLeaseRequest] = []
        self.returned: list[raylet_pb2.ReturnWorkerRequest] = []
        self.killed: list[raylet_pb2.KillWorkerRequest] = []
        self.cancelled: list[raylet_pb2.CancelWorkerLeaseRequest] = []
        self.workers: list[FakeWorker] = []
        self.port = 0
        self._server: grpc.aio.Server | None = None
        self._changed = asyncio.Event()

    @property
    def address(self) -> common_pb2.Address:
        """Where the GCS reaches this raylet."""
        return common_pb2.Address(node_id=self.node_id, host="127.0.0.1", port=self.port)

    def node_info(self, resources: dict[str, float]) -> gcs_pb2.NodeInfo:
        """The NodeInfo this raylet registers with."""
        return gcs_pb2.NodeInfo(
            node_id=self.node_id, raylet_address=self.address, store_name="fake", resources_total=resources
        )

    async def start(self) -> None:
        """Serve on an ephemeral 127.0.0.1 port."""
        self._server = grpc.aio.server()
        raylet_pb2_grpc.add_RayletServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()

    async def stop(self) -> None:
        """Stop serving (and, for a raylet, its workers)."""
        if self._server is not None:
            await self._server.stop(None)
            self._server = None
        for worker in self.workers:
            await worker.stop()

    async def wait_for(self, condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
        """Wait until ``condition()`` holds (checked whenever the GCS calls us)."""
        async def loop() -> None:
            while not condition():
                event = self._changed
                await event.wait()
        await asyncio.wait_for(loop(), timeout)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def RequestWorkerLease(
        self, request: raylet_pb2.RequestWorkerLeaseRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.RequestWorkerLeaseReply:
        """Follow the lease script; a grant starts a new FakeWorker."""
        self.lease_requests.append(request)
        self._notify()
        action = self.lease_script.popleft() if self.lease_script else "grant"
        if isinstance(action, common_pb2.ErrorRecord):
            return raylet_pb2.RequestWorkerLeaseReply(failure=action)
        if action == "fail":
            return raylet_pb2.RequestWorkerLeaseReply(failure=LEASE_FAILURE)
        if action == "unavailable":
            await context.abort(grpc.StatusCode.UNAVAILABLE, "raylet is restarting")
        if action == "hang":
            await asyncio.Event().wait()
        behaviour = self.worker_script.popleft() if self.worker_script else self.default_worker_behaviour
        worker = FakeWorker(self.node_id, behaviour)
        await worker.start()
        self.workers.append(worker)
        return raylet_pb2.RequestWorkerLeaseReply(
            lease_id=os.urandom(8), worker_address=worker.address, worker_pid=worker.pid
        )

    async def ReturnWorker(
        self, request: raylet_pb2.ReturnWorkerRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.ReturnWorkerReply:
        """Record the return."""
        self.returned.append(request)
        self._notify()
        return raylet_pb2.ReturnWorkerReply()

    async def KillWorker(
        self, request: raylet_pb2.KillWorkerRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.KillWorkerReply:
        """Record the kill."""
        self.killed.append(request)
        self._notify()
        return raylet_pb2.KillWorkerReply(killed=True)

    async def CancelWorkerLease(
        self, request: raylet_pb2.CancelWorkerLeaseRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.CancelWorkerLeaseReply:
        """Record the cancellation."""
        self.cancelled.append(request)
        self._notify()
        return raylet_pb2.CancelWorkerLeaseReply(canceled=True)
