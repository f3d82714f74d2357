"""Where job records live: the GCS's KV store (namespace ``job_submission``).

The KV writes through the GCS's Storage like every other table, so records
last as long as the GCS keeps its data (and across a head restart once the
GCS persists). Any client can read them: ``list_submissions(gcs_address)``.
"""

from __future__ import annotations

from typing import Protocol

from polyray.protocol import auth, gcs_pb2, gcs_pb2_grpc
from polyray.runtime_env.packaging import KV_NAMESPACE

from .record import JobRecord

NAMESPACE = "job_submission"
RPC_TIMEOUT_S = 10.0


class JobStore(Protocol):
    async def put(self, record: JobRecord) -> None: ...
    async def get(self, submission_id: str) -> JobRecord | None: ...
    async def all(self) -> list[JobRecord]: ...
    async def delete(self, submission_id: str) -> bool: ...


class GcsJobStore:
    """Records in the GCS KV, over grpc.aio (create it on the loop that uses it)."""

    def __init__(self, gcs_address: str) -> None:
        self._channel = auth.aio_channel(gcs_address)
        self._stub = gcs_pb2_grpc.GcsServiceStub(self._channel)

    async def put(self, record: JobRecord) -> None:
        await self._stub.KVPut(gcs_pb2.KVPutRequest(namespace=NAMESPACE, key=record.submission_id.encode(),
                                                    value=record.to_json(), overwrite=True), timeout=RPC_TIMEOUT_S)

    async def add(self, record: JobRecord) -> bool:
        """Store a new record; False when its submission id is taken."""
        reply = await self._stub.KVPut(gcs_pb2.KVPutRequest(namespace=NAMESPACE, key=record.submission_id.encode(),
                                                            value=record.to_json(), overwrite=False),
                                       timeout=RPC_TIMEOUT_S)
        return bool(reply.added)

    async def get(self, submission_id: str) -> JobRecord | None:
        reply = await self._stub.KVGet(gcs_pb2.KVGetRequest(namespace=NAMESPACE, key=submission_id.encode()),
                                       timeout=RPC_TIMEOUT_S)
        return JobRecord.from_json(reply.value) if reply.found else None

    async def all(self) -> list[JobRecord]:
        keys = (await self._stub.KVKeys(gcs_pb2.KVKeysRequest(namespace=NAMESPACE, prefix=b""),
                                        timeout=RPC_TIMEOUT_S)).keys
        out = []
        for key in keys:
            reply = await self._stub.KVGet(gcs_pb2.KVGetRequest(namespace=NAMESPACE, key=key), timeout=RPC_TIMEOUT_S)
            if reply.found:
                out.append(JobRecord.from_json(reply.value))
        return out

    async def delete(self, submission_id: str) -> bool:
        reply = await self._stub.KVDel(gcs_pb2.KVDelRequest(namespace=NAMESPACE, key=submission_id.encode()),
                                       timeout=RPC_TIMEOUT_S)
        return reply.deleted > 0

    async def driver_jobs(self) -> list[gcs_pb2.JobInfo]:
        """The GCS's job table (one row per driver)."""
        return list((await self._stub.GetAllJobs(gcs_pb2.GetAllJobsRequest(), timeout=RPC_TIMEOUT_S)).jobs)

    async def nodes(self) -> list[gcs_pb2.NodeInfo]:
        return list((await self._stub.GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=RPC_TIMEOUT_S)).nodes)

    async def package(self, uri: str) -> bytes | None:
        """A runtime env package's bytes (polyray.runtime_env.packaging's KV namespace)."""
        reply = await self._stub.KVGet(gcs_pb2.KVGetRequest(namespace=KV_NAMESPACE, key=uri.encode()),
                                       timeout=RPC_TIMEOUT_S)
        return reply.value if reply.found else None

    async def close(self) -> None:
        await self._channel.close()


def list_submissions(gcs_address: str, timeout: float = RPC_TIMEOUT_S) -> list[JobRecord]:
    """Every submitted job's record, read straight from the GCS (blocking; any client)."""
    with auth.channel(gcs_address) as ch:
        stub = gcs_pb2_grpc.GcsServiceStub(ch)
        keys = stub.KVKeys(gcs_pb2.KVKeysRequest(namespace=NAMESPACE, prefix=b""), timeout=timeout).keys
        out = []
        for key in keys:
            reply = stub.KVGet(gcs_pb2.KVGetRequest(namespace=NAMESPACE, key=key), timeout=timeout)
            if reply.found:
                out.append(JobRecord.from_json(reply.value))
        return out
