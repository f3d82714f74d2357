"""RayletService: the RPC handlers, and the guard every handler runs behind.

Invariants: the servicer holds only the parts it is given (config, lease
manager, worker pool, object manager, a stop callback), never the
RayletServer, so this module does not import server.py. Every handler
validates ids before touching a part. The guard turns a request that does not
decode into INVALID_ARGUMENT (gRPC would answer INTERNAL), a ValueError raised
by a handler into INVALID_ARGUMENT with its message, and any other exception
into INTERNAL, so one bad call never stops the server.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import grpc
from google.protobuf.message import Message

from polyray.protocol import common_pb2, raylet_pb2, validation
from polyray.protocol.rpc_guard import guard_stream, guard_unary, safe_deserializer
from polyray.protocol.runtime_spec import LOGS_DRAIN_MS
from polyray.raylet import object_listing
from polyray.raylet.config import NodeConfig
from polyray.raylet.lease_manager import LeaseManager
from polyray.raylet.log_files import LogFiles, Writer
from polyray.raylet.object_manager import ObjectManager, ObjectNotAvailable, check_object_id
from polyray.raylet.worker_pool import RegistrationError, WorkerPool
from polyray.raylet.worker_process import WorkerState

log = logging.getLogger(__name__)

SERVICE_NAME = "polyray.rpc.RayletService"
#: Ids the raylet checks (docs/protocol.md §IDs).
WORKER_ID_SIZE = 28
JOB_ID_SIZE = 4
PLACEMENT_GROUP_ID_SIZE = 18


def _check_len(what: str, value: bytes, size: int) -> None:
    if len(value) != size:
        raise ValueError(f"{what} must be {size} bytes, got {len(value)} ({value.hex() or 'empty'})")


def _split_address(address: str) -> common_pb2.Address:
    """"host:port" as an Address (host only when the port is not a number)."""
    host, _, port = address.rpartition(":")
    try:
        return common_pb2.Address(host=host, port=int(port))
    except ValueError:
        return common_pb2.Address(host=address)


#: Called with a reason to stop the raylet in the background (the Shutdown RPC).
RequestStop = Callable[[str], None]


class RayletServicer:
    """Implements every RayletService method against the node's parts.

    The RayletServer builds the parts and passes each one in; a test can pass
    its own.
    """

    def __init__(
        self,
        *,
        config: NodeConfig,
        leases: LeaseManager,
        pool: WorkerPool,
        objects: ObjectManager,
        request_stop: RequestStop,
        flush_logs: Callable[[int], Awaitable[bool]] | None = None,
        ask_refs: object_listing.Ask | None = None,
        job_code_search_path: Callable[[bytes], Awaitable[tuple[str, ...] | None]] | None = None,
    ) -> None:
        self._job_code_search_path = job_code_search_path
        self._ask_refs = ask_refs or object_listing.ask_over_grpc
        self._flush_logs = flush_logs
        self._config = config
        self._leases = leases
        self._pool = pool
        self._objects = objects
        self._request_stop = request_stop
        self._logs = LogFiles(config.session_dir, lambda: [
            Writer(w.worker_id, w.pid, w.alive) for w in pool.workers.values() if w.pid])

    def _register_reply(self) -> raylet_pb2.RegisterWorkerReply:
        """What a registering worker or driver learns about this node."""
        config = self._config
        return raylet_pb2.RegisterWorkerReply(
            node_id=config.node_id, store_name=config.store_name,
            gcs_address=_split_address(config.gcs_address), log_dir=os.path.abspath(config.session_dir),
        )

    # -- leases -----------------------------------------------------------------

    async def RequestWorkerLease(
        self, request: raylet_pb2.RequestWorkerLeaseRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.RequestWorkerLeaseReply:
        """Block until a worker is leased (or the request fails / is canceled)."""
        task = request.task
        _check_len("task.job_id", task.job_id, JOB_ID_SIZE)
        if task.language not in common_pb2.Language.values():
            raise ValueError(f"task.language {task.language} is not a known Language")
        if len(task.runtime_env) > validation.MAX_RUNTIME_ENV_CHARS:
            raise ValueError(f"task.runtime_env: {len(task.runtime_env)} characters, "
                             f"at most {validation.MAX_RUNTIME_ENV_CHARS}")
        return await self._leases.request(task, request.grant_or_reject)

    async def ReturnWorker(
        self, request: raylet_pb2.ReturnWorkerRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.ReturnWorkerReply:
        """Give a leased worker back (idle, or stopped with disconnect)."""
        self._leases.return_worker(request.lease_id, request.worker_id, request.disconnect)
        return raylet_pb2.ReturnWorkerReply()

    async def CancelWorkerLease(
        self, request: raylet_pb2.CancelWorkerLeaseRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.CancelWorkerLeaseReply:
        """Drop a lease request not granted yet."""
        return raylet_pb2.CancelWorkerLeaseReply(canceled=self._leases.cancel(request.task_id))

    # -- workers ------------------------------------------------------------------

    async def RegisterWorker(
        self, request: raylet_pb2.RegisterWorkerRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.RegisterWorkerReply:
        """A started worker (or a driver) announces its CoreWorker port."""
        _check_len("worker_id", request.worker_id, WORKER_ID_SIZE)
        pool = self._pool
        if request.is_driver:
            _check_len("job_id", request.job_id, JOB_ID_SIZE)
            pool.register_driver(
                request.worker_id, request.language, request.pid, request.port, request.job_id
            )
            count = self._config.prestart_on_driver
            if count > 0 and request.language == common_pb2.PYTHON:
                pool.prestart(common_pb2.PYTHON, request.job_id, (), count)
            await self._prestart_own_language(request.language, request.job_id)
        else:
            try:
                pool.register(
                    request.worker_id, request.startup_token, request.language,
                    request.pid, request.port, request.push_port,
                )
            except RegistrationError as exc:
                await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        return self._register_reply()

    async def _prestart_own_language(self, language: int, job_id: bytes) -> None:
        """A Java or C++ driver registered: start
        ``prestart_on_driver_by_language[language]`` workers of its language
        for its job, with the code search path the job was added with (its
        tasks' pool key), before the driver hears back, so its first task of
        that language finds one starting or up instead of starting one itself.
        The GCS lookup is bounded by its RPC deadline; a failure only logs."""
        count = self._config.prestart_on_driver_by_language.get(language, 0)
        if count <= 0 or language == common_pb2.PYTHON or self._job_code_search_path is None:
            return
        try:
            csp = await self._job_code_search_path(job_id)
        except (grpc.aio.AioRpcError, OSError) as exc:
            log.info("no prestart for job %s: cannot read its code search path: %s", job_id.hex(), exc)
            return
        if csp is None:
            log.info("no prestart for job %s: the GCS does not know it", job_id.hex())
            return
        self._pool.prestart_for_driver(language, job_id, csp, count)

    async def DisconnectWorker(
        self, request: raylet_pb2.DisconnectWorkerRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.DisconnectWorkerReply:
        """A worker says it is about to exit (intentionally or not)."""
        self._pool.disconnect(request.worker_id, request.intentional)
        return raylet_pb2.DisconnectWorkerReply()

    async def NotifyWorkerBlocked(
        self, request: raylet_pb2.NotifyWorkerBlockedRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.NotifyWorkerBlockedReply:
        """A leased worker blocks in get() (or resumes): lend its CPUs to the node."""
        _check_len("worker_id", request.worker_id, WORKER_ID_SIZE)
        self._leases.set_blocked(request.worker_id, request.blocked)
        return raylet_pb2.NotifyWorkerBlockedReply()

    async def KillWorker(
        self, request: raylet_pb2.KillWorkerRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.KillWorkerReply:
        """SIGKILL (force) or SIGTERM a worker of this node."""
        worker = self._pool.workers.get(request.worker_id)
        if worker is None:
            return raylet_pb2.KillWorkerReply(killed=False)
        worker.kill_reason = request.reason or "killed through KillWorker"
        return raylet_pb2.KillWorkerReply(killed=self._pool.kill(worker, request.force))

    # -- objects ------------------------------------------------------------------

    async def PinObjects(
        self, request: raylet_pb2.PinObjectsRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.PinObjectsReply:
        """Pin primary copies until FreeObjects; false for an id not in the store."""
        ids = list(request.object_ids)
        for oid in ids:
            check_object_id(oid)
        return raylet_pb2.PinObjectsReply(pinned=self._objects.pin(ids, request.owner))

    async def FreeObjects(
        self, request: raylet_pb2.FreeObjectsRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.FreeObjectsReply:
        """Release the pins and delete the objects."""
        ids = list(request.object_ids)
        for oid in ids:
            check_object_id(oid)
        self._objects.free(ids)
        if request.owner_worker_id:
            _check_len("owner_worker_id", request.owner_worker_id, WORKER_ID_SIZE)
            self._objects.free_owned_by(request.owner_worker_id)
        return raylet_pb2.FreeObjectsReply()

    async def ReadObject(
        self, request: raylet_pb2.ReadObjectRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[raylet_pb2.ObjectChunk]:
        """Stream an object's data then metadata in chunks."""
        check_object_id(request.object_id)
        if request.timeout_ms < 0:
            raise ValueError("timeout_ms must be >= 0")
        timeout = request.timeout_ms / 1000.0
        remaining = context.time_remaining()
        if remaining is not None:
            timeout = min(timeout, max(0.0, remaining))
        try:
            async for chunk in self._objects.read(
                request.object_id, request.chunk_size, timeout
            ):
                yield chunk
        except ObjectNotAvailable as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))

    # -- node ---------------------------------------------------------------------

    async def GetNodeStats(
        self, request: raylet_pb2.GetNodeStatsRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.GetNodeStatsReply:
        """Resources, workers, store and queue of this node."""
        stats = self._objects.stats()
        workers = [
            raylet_pb2.WorkerStats(
                worker_id=w.worker_id, language=cast(common_pb2.Language, w.language), pid=w.reported_pid or w.pid,
                leased=w.state is WorkerState.LEASED, actor_id=w.actor_id,
                job_id=w.job_id, port=w.port,
            )
            for w in self._pool.workers.values()
        ]
        return raylet_pb2.GetNodeStatsReply(
            node_id=self._config.node_id,
            resources_total=self._leases.resources.total.to_dict(),
            resources_available=self._leases.resources.available.to_dict(),
            workers=workers,
            store_capacity=stats.capacity,
            store_bytes_used=stats.bytes_used,
            store_objects=stats.objects,
            pending_leases=self._leases.pending_count,
            driver_ids=list(self._pool.drivers),
        )

    async def PrepareBundles(
        self, request: raylet_pb2.PrepareBundlesRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.PrepareBundlesReply:
        """Reserve placement group bundles on this node, all or none."""
        for i, b in enumerate(request.bundles):
            _check_len(f"bundles[{i}].placement_group_id", b.placement_group_id, PLACEMENT_GROUP_ID_SIZE)
        ok, why = self._leases.prepare_bundles(list(request.bundles))
        return raylet_pb2.PrepareBundlesReply(success=ok, message=why)

    async def CancelBundles(
        self, request: raylet_pb2.CancelBundlesRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.CancelBundlesReply:
        """Release a placement group's bundles on this node."""
        _check_len("placement_group_id", request.placement_group_id, PLACEMENT_GROUP_ID_SIZE)
        return raylet_pb2.CancelBundlesReply(canceled=self._leases.cancel_bundles(request.placement_group_id))

    async def Shutdown(
        self, request: raylet_pb2.ShutdownRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.ShutdownReply:
        """Stop the raylet once this reply is sent."""
        self._request_stop("Shutdown RPC")
        return raylet_pb2.ShutdownReply()

    async def FlushLogs(
        self, request: raylet_pb2.FlushLogsRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.FlushLogsReply:
        """Publish what the workers wrote up to now (the GCS's DrainLogs)."""
        flush = self._flush_logs or _no_flush
        timeout_ms = min(request.timeout_ms or LOGS_DRAIN_MS, 60_000)
        return raylet_pb2.FlushLogsReply(complete=await flush(timeout_ms))

    async def ListObjects(
        self, request: raylet_pb2.ListObjectsRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.ListObjectsReply:
        """The object references of every worker and driver of this node, within a bound (the state API)."""
        limit, wait = object_listing.bounds(request.limit, request.timeout_ms, context.time_remaining())
        host = self._config.host
        processes = [object_listing.Process(w.worker_id, f"{host}:{w.port}")
                     for w in self._pool.workers.values() if w.port and w.is_registered and w.alive]
        processes += [object_listing.Process(d.worker_id, f"{host}:{d.port}")
                      for d in self._pool.drivers.values() if d.port]
        return await object_listing.list_objects(self._config.node_id, processes, self._ask_refs, limit, wait)


    # -- log files (log_files.py) -------------------------------------------------

    async def ListLogs(
        self, request: raylet_pb2.ListLogsRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.ListLogsReply:
        """The files of this node's log folder."""
        files = await self._logs.list_async()
        return raylet_pb2.ListLogsReply(node_id=self._config.node_id, log_dir=self._logs.log_dir,
                                        files=[raylet_pb2.LogFileInfo(**f) for f in files])

    async def ReadLog(
        self, request: raylet_pb2.ReadLogRequest, context: grpc.aio.ServicerContext
    ) -> raylet_pb2.ReadLogReply:
        """One page of a log file (a name inside the folder; anything else is INVALID_ARGUMENT)."""
        try:
            page = await self._logs.read_async(request.filename, request.offset, request.max_bytes,
                                               request.tail_lines)
        except ValueError:
            raise
        except OSError as exc:  # missing, or unreadable
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        return raylet_pb2.ReadLogReply(**page)


async def _no_flush(timeout_ms: int) -> bool:
    return True


def _deserializer(cls: type[Message]) -> Callable[[bytes], Any]:
    # Ids by their spec sizes, enum values, string and list lengths
    # (polyray.protocol.validation); handlers check what is required.
    return safe_deserializer(cls, validation.check_message, (validation.InvalidInput,))


def generic_handler(servicer: RayletServicer) -> grpc.GenericRpcHandler:
    """Every RayletService method, guarded, from the service's descriptor."""
    service = raylet_pb2.DESCRIPTOR.services_by_name["RayletService"]
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    for method in service.methods:
        request_cls = getattr(raylet_pb2, method.input_type.name)
        reply_cls = getattr(raylet_pb2, method.output_type.name)
        impl = getattr(servicer, method.name)  # every method is served: the proto and the servicer ship together
        if method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                guard_stream(SERVICE_NAME, method.name, impl, (ValueError,)),
                request_deserializer=_deserializer(request_cls),
                response_serializer=reply_cls.SerializeToString,
            )
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                guard_unary(SERVICE_NAME, method.name, impl, (ValueError,)),
                request_deserializer=_deserializer(request_cls),
                response_serializer=reply_cls.SerializeToString,
            )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)
