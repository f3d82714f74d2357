"""The RPCs the GCS makes to create and tear down an actor's worker: lease a
worker from a raylet, push the creation task to it, and give the lease back.

Every call has a deadline from :class:`GcsConfig`. Nothing here changes actor
state: the directory decides what an outcome means.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError

from polyray.protocol import common_pb2, core_worker_pb2, raylet_pb2

from .background import log
from .clients import ClientPool
from .config import GcsConfig
from .validation import target


@dataclass
class Lease:
    """A worker leased for an actor, kept for the actor's lifetime."""

    lease_id: bytes
    worker: common_pb2.Address  # the actor's address: node_id, host, port, worker_id
    pid: int
    raylet: common_pb2.Address  # the raylet that granted it (where it is returned)
    node_id: bytes

    @property
    def worker_id(self) -> bytes:
        """The leased worker's ID."""
        return self.worker.worker_id

    def to_record(self) -> raylet_pb2.RequestWorkerLeaseReply:
        """The lease as stored (the raylet is found again from the node table)."""
        return raylet_pb2.RequestWorkerLeaseReply(
            lease_id=self.lease_id, worker_address=self.worker, worker_pid=self.pid
        )


class CreationPushError(Exception):
    """The creation task got no result: the stream broke, closed early, or timed out."""


class WorkerRpc:
    """Raylet and worker calls used by the actor directory."""

    def __init__(self, pool: ClientPool, config: GcsConfig) -> None:
        """Call through ``pool`` with the deadlines of ``config``."""
        self._pool = pool
        self._config = config
        self._drains: set[asyncio.Task[None]] = set()

    async def request_lease(
        self, raylet: common_pb2.Address, spec: common_pb2.TaskSpec, *, grant_or_reject: bool = False
    ) -> raylet_pb2.RequestWorkerLeaseReply:
        """Ask ``raylet`` for a worker for ``spec``.

        Raises AioRpcError when the raylet cannot be reached or does not answer in time.
        """
        request = raylet_pb2.RequestWorkerLeaseRequest(task=spec, grant_or_reject=grant_or_reject)
        return await self._pool.raylet(raylet).RequestWorkerLease(request, timeout=self._config.lease_timeout_s)

    async def push_creation_task(
        self, worker: common_pb2.Address, spec: common_pb2.TaskSpec
    ) -> core_worker_pb2.TaskResult:
        """Run the creation task on ``worker`` over a PushTasks stream; its result."""
        call = self._pool.worker(worker).PushTasks(timeout=self._config.creation_timeout_s)
        try:
            await call.write(core_worker_pb2.PushTasksRequest(tasks=[spec]))
            while True:
                reply = await call.read()
                if reply is grpc.aio.EOF:  # type: ignore[attr-defined]  # missing from grpc-stubs
                    code = await call.code()
                    raise CreationPushError(
                        f"the worker at {target(worker)} closed the task stream without a result "
                        f"({code.name}: {await call.details()})"
                    )
                for result in reply.results:
                    if result.task_id == spec.task_id or not result.task_id:
                        self._finish_stream(call)
                        return result
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise CreationPushError(
                    f"the creation task got no result within {self._config.creation_timeout_s:g} s"
                ) from err
            raise CreationPushError(
                f"the task stream to {target(worker)} failed ({err.code().name}: {err.details()})"
            ) from err
        except asyncio.CancelledError:
            call.cancel()
            raise

    def _finish_stream(self, call: grpc.aio.StreamStreamCall) -> None:
        # Half-close and let the worker end the stream on its side; nothing
        # waits for that, but the task is kept so it is not garbage collected.
        async def drain() -> None:
            try:
                await call.done_writing()
                await call.code()
            except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
                pass

        task = asyncio.get_running_loop().create_task(drain())
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    async def release(self, lease: Lease, *, exit_worker: bool, reason: str) -> None:
        """Give a lease back with disconnect=True; with ``exit_worker`` first tell
        the worker to exit (CoreWorker Exit, else the raylet's KillWorker).

        Failures are logged, not raised: the worker or node may be gone already.
        """
        timeout = self._config.rpc_timeout_s
        raylet = self._pool.raylet(lease.raylet)
        if exit_worker:
            accepted = False
            try:
                exit_reply = await self._pool.worker(lease.worker).Exit(
                    core_worker_pb2.ExitRequest(force=True, reason=reason), timeout=timeout
                )
                accepted = exit_reply.accepted
            except grpc.aio.AioRpcError as err:
                log.info("Exit to worker %s failed: %s", lease.worker_id.hex(), err.code().name)
            if not accepted:
                try:
                    await raylet.KillWorker(
                        raylet_pb2.KillWorkerRequest(worker_id=lease.worker_id, force=True, reason=reason),
                        timeout=timeout,
                    )
                except grpc.aio.AioRpcError as err:
                    log.warning("KillWorker %s failed: %s", lease.worker_id.hex(), err.code().name)
        try:
            await raylet.ReturnWorker(
                raylet_pb2.ReturnWorkerRequest(lease_id=lease.lease_id, worker_id=lease.worker_id, disconnect=True),
                timeout=timeout,
            )
        except grpc.aio.AioRpcError as err:
            log.warning("ReturnWorker of lease %s failed: %s", lease.lease_id.hex(), err.code().name)
        await self._pool.forget(lease.worker)

    async def cancel_lease(self, raylet: common_pb2.Address, task_id: bytes) -> None:
        """Withdraw a lease request that is no longer wanted (best effort)."""
        try:
            await self._pool.raylet(raylet).CancelWorkerLease(
                raylet_pb2.CancelWorkerLeaseRequest(task_id=task_id), timeout=self._config.rpc_timeout_s
            )
        except grpc.aio.AioRpcError as err:
            log.info("CancelWorkerLease at %s failed: %s", target(raylet), err.code().name)

    async def close(self) -> None:
        """Stop stream drains."""
        for task in list(self._drains):
            task.cancel()
        await asyncio.gather(*self._drains, return_exceptions=True)


def creation_error(result: core_worker_pb2.TaskResult) -> common_pb2.ErrorRecord | None:
    """The error a creation task raised (a FORMAT_ERROR return), or None."""
    for ret in result.returns:
        if ret.HasField("value") and ret.value.format == common_pb2.FORMAT_ERROR:
            try:
                return common_pb2.ErrorRecord.FromString(ret.value.body)
            except DecodeError:
                return common_pb2.ErrorRecord(
                    kind=common_pb2.RUNTIME_ERROR,
                    type_name="RuntimeError",
                    message="the constructor failed, and its error record could not be decoded",
                    language=common_pb2.PYTHON,
                )
    return None
