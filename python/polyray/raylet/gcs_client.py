"""The raylet's calls to the GCS, each with a deadline."""

from __future__ import annotations

import asyncio
import logging
import time

import grpc

from polyray.protocol import auth, common_pb2, gcs_pb2, gcs_pb2_grpc

log = logging.getLogger(__name__)


class GcsClient:
    """A grpc.aio channel to the GCS and the few calls a raylet makes."""

    def __init__(self, address: str, rpc_timeout_s: float) -> None:
        self.address = address
        self.rpc_timeout_s = rpc_timeout_s
        self._channel = auth.aio_channel(address)
        self._stub = gcs_pb2_grpc.GcsServiceStub(self._channel)

    async def register_node(
        self, node: gcs_pb2.NodeInfo, connect_timeout_s: float
    ) -> gcs_pb2.RegisterNodeReply:
        """RegisterNode, retrying until the GCS answers or ``connect_timeout_s`` passes."""
        deadline = time.monotonic() + connect_timeout_s
        while True:
            left = deadline - time.monotonic()
            try:
                return await self._stub.RegisterNode(
                    gcs_pb2.RegisterNodeRequest(node=node),
                    timeout=max(0.1, min(self.rpc_timeout_s, left)),
                    wait_for_ready=True,
                )
            except grpc.aio.AioRpcError as exc:
                retryable = exc.code() in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                )
                if not retryable or time.monotonic() >= deadline:
                    raise ConnectionError(
                        f"cannot register with the GCS at {self.address}: "
                        f"{exc.code().name}: {exc.details()}"
                    ) from exc
                await asyncio.sleep(0.1)

    async def heartbeat(self, node_id: bytes, available: dict[str, float]) -> gcs_pb2.HeartbeatReply:
        """One heartbeat with the resources available now."""
        return await self._stub.Heartbeat(
            gcs_pb2.HeartbeatRequest(node_id=node_id, resources_available=available),
            timeout=self.rpc_timeout_s,
        )

    async def unregister_node(self, node_id: bytes, reason: str) -> None:
        """Tell the GCS this node is leaving (best effort)."""
        await self._stub.UnregisterNode(
            gcs_pb2.UnregisterNodeRequest(node_id=node_id, reason=reason),
            timeout=self.rpc_timeout_s,
        )

    async def report_worker_death(
        self, worker_id: bytes, node_id: bytes, actor_id: bytes, cause: common_pb2.ErrorRecord,
        *, driver_job_id: bytes = b"", stopped_by_raylet: bool = False,
    ) -> None:
        """ReportWorkerDeath for a worker (or, with ``driver_job_id``, a driver) that died
        (``stopped_by_raylet``: one the raylet stopped itself, recorded for owners only)."""
        await self._stub.ReportWorkerDeath(
            gcs_pb2.ReportWorkerDeathRequest(
                worker_id=worker_id, node_id=node_id, actor_id=actor_id, cause=cause,
                is_driver=bool(driver_job_id), job_id=driver_job_id, stopped_by_raylet=stopped_by_raylet,
            ),
            timeout=self.rpc_timeout_s,
        )

    async def get_all_nodes(self) -> list[gcs_pb2.NodeInfo]:
        """The GCS node table (alive and dead nodes)."""
        reply = await self._stub.GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=self.rpc_timeout_s)
        return list(reply.nodes)

    async def get_placement_group(
        self, pg_id: bytes, wait_s: float
    ) -> gcs_pb2.PlacementGroupInfo | None:
        """A placement group, waiting up to ``wait_s`` for it to be created;
        None when the GCS does not know it. Other failures are retried after a
        pause and answered as a still-pending group, so the caller waits on."""
        try:
            reply = await self._stub.GetPlacementGroup(
                gcs_pb2.GetPlacementGroupRequest(placement_group_id=pg_id, wait_until_created=wait_s > 0),
                timeout=max(self.rpc_timeout_s, wait_s + self.rpc_timeout_s),
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise ValueError(exc.details()) from None
            log.warning("GetPlacementGroup %s failed: %s", pg_id.hex(), exc.code().name)
            await asyncio.sleep(1.0)
            return gcs_pb2.PlacementGroupInfo(placement_group_id=pg_id, state=gcs_pb2.PG_PENDING)
        return reply.group

    async def publish_logs(self, batches: list[gcs_pb2.LogBatch]) -> None:
        """Forward worker output to the GCS, which fans it out to drivers."""
        await self._stub.PublishLogs(
            gcs_pb2.PublishLogsRequest(batches=batches), timeout=self.rpc_timeout_s
        )

    async def get_package(self, uri: str) -> bytes | None:
        """A runtime env package's bytes from the GCS KV (None: not there).

        On a channel of its own that takes messages up to the runtime spec's
        max_message_bytes (packages are up to 100 MiB; the shared channel
        keeps gRPC's 4 MiB default), with a deadline of 10 RPC timeouts.
        """
        from polyray.protocol.runtime_spec import RPC_MAX_MESSAGE_BYTES
        from polyray.runtime_env.packaging import KV_NAMESPACE

        options = [("grpc.max_receive_message_length", RPC_MAX_MESSAGE_BYTES)]
        async with auth.aio_channel(self.address, options=options) as channel:
            reply = await gcs_pb2_grpc.GcsServiceStub(channel).KVGet(
                gcs_pb2.KVGetRequest(namespace=KV_NAMESPACE, key=uri.encode()),
                timeout=self.rpc_timeout_s * 10,
            )
        return reply.value if reply.found else None

    async def job_code_search_path(self, job_id: bytes) -> tuple[str, ...] | None:
        """The code search path job ``job_id`` was added with (GetAllJobs);
        None when the GCS does not know the job."""
        reply = await self._stub.GetAllJobs(gcs_pb2.GetAllJobsRequest(), timeout=self.rpc_timeout_s)
        for job in reply.jobs:
            if job.job_id == job_id:
                return tuple(job.code_search_path)
        return None

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()
