"""Jobs, KV, the function table, storage and restart from storage."""

from __future__ import annotations

import grpc
import pytest

from polyray.gcs import InMemoryStorage
from polyray.protocol import gcs_pb2

from .harness import RPC_TIMEOUT, cluster, run

pytestmark = pytest.mark.timeout(30)


@run
async def test_jobs_get_sequential_big_endian_ids() -> None:
    async with cluster() as c:
        first = await c.new_job(namespace="ns")
        second = await c.new_job()
        assert first == b"\x01\x00\x00\x00" and second == b"\x02\x00\x00\x00"
        jobs = {j.job_id: j for j in (await c.stub.GetAllJobs(gcs_pb2.GetAllJobsRequest(), timeout=RPC_TIMEOUT)).jobs}
        assert jobs[first].namespace == "ns" and not jobs[first].finished and jobs[first].start_time > 0
        await c.stub.MarkJobFinished(gcs_pb2.MarkJobFinishedRequest(job_id=first), timeout=RPC_TIMEOUT)
        await c.stub.MarkJobFinished(gcs_pb2.MarkJobFinishedRequest(job_id=first), timeout=RPC_TIMEOUT)  # idempotent
        jobs = {j.job_id: j for j in (await c.stub.GetAllJobs(gcs_pb2.GetAllJobsRequest(), timeout=RPC_TIMEOUT)).jobs}
        assert jobs[first].finished and jobs[first].end_time >= jobs[first].start_time
        assert not jobs[second].finished


@run
async def test_job_ids_agree_with_the_protocol_ids_module() -> None:
    ids = pytest.importorskip("polyray.protocol.ids")
    async with cluster() as c:
        for expected in (1, 2, 3):
            job_id = await c.new_job()
            assert ids.JobID.from_int(expected).binary() == job_id
            assert ids.JobID(job_id).to_int() == expected


@run
async def test_job_errors() -> None:
    async with cluster() as c:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.stub.MarkJobFinished(gcs_pb2.MarkJobFinishedRequest(job_id=b"\x09\0\0\0"), timeout=RPC_TIMEOUT)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.stub.MarkJobFinished(gcs_pb2.MarkJobFinishedRequest(job_id=b"\0\x01"), timeout=RPC_TIMEOUT)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "job_id" in err.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.stub.AddJob(gcs_pb2.AddJobRequest(job=gcs_pb2.JobInfo(job_id=b"\1\0\0\0")), timeout=RPC_TIMEOUT)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "job_id" in err.value.details()


@run
async def test_kv_per_namespace() -> None:
    async with cluster() as c:
        s = c.stub
        put = await s.KVPut(gcs_pb2.KVPutRequest(namespace="a", key=b"k1", value=b"v1"), timeout=RPC_TIMEOUT)
        assert put.added
        again = await s.KVPut(gcs_pb2.KVPutRequest(namespace="a", key=b"k1", value=b"v2"), timeout=RPC_TIMEOUT)
        assert not again.added
        assert (await s.KVGet(gcs_pb2.KVGetRequest(namespace="a", key=b"k1"), timeout=RPC_TIMEOUT)).value == b"v1"
        await s.KVPut(gcs_pb2.KVPutRequest(namespace="a", key=b"k1", value=b"v3", overwrite=True), timeout=RPC_TIMEOUT)
        assert (await s.KVGet(gcs_pb2.KVGetRequest(namespace="a", key=b"k1"), timeout=RPC_TIMEOUT)).value == b"v3"
        # Another namespace sees none of it.
        other = await s.KVGet(gcs_pb2.KVGetRequest(namespace="b", key=b"k1"), timeout=RPC_TIMEOUT)
        assert not other.found
        for key in (b"k2", b"x1"):
            await s.KVPut(gcs_pb2.KVPutRequest(namespace="a", key=key, value=b"v"), timeout=RPC_TIMEOUT)
        keys = await s.KVKeys(gcs_pb2.KVKeysRequest(namespace="a", prefix=b"k"), timeout=RPC_TIMEOUT)
        assert list(keys.keys) == [b"k1", b"k2"]
        deleted = await s.KVDel(gcs_pb2.KVDelRequest(namespace="a", key=b"k", by_prefix=True), timeout=RPC_TIMEOUT)
        assert deleted.deleted == 2
        deleted = await s.KVDel(gcs_pb2.KVDelRequest(namespace="a", key=b"x1"), timeout=RPC_TIMEOUT)
        assert deleted.deleted == 1
        assert list((await s.KVKeys(gcs_pb2.KVKeysRequest(namespace="a"), timeout=RPC_TIMEOUT)).keys) == []
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await s.KVPut(gcs_pb2.KVPutRequest(namespace="a", key=b"", value=b"v"), timeout=RPC_TIMEOUT)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@run
async def test_function_table() -> None:
    async with cluster() as c:
        job = await c.new_job()
        request = gcs_pb2.ExportFunctionRequest(job_id=job, function_hash=b"h1", pickled=b"pickle-bytes", name="f")
        await c.stub.ExportFunction(request, timeout=RPC_TIMEOUT)
        got = await c.stub.GetFunction(gcs_pb2.GetFunctionRequest(job_id=job, function_hash=b"h1"), timeout=RPC_TIMEOUT)
        assert got.found and got.pickled == b"pickle-bytes" and got.name == "f"
        other_job = await c.new_job()
        missing = await c.stub.GetFunction(
            gcs_pb2.GetFunctionRequest(job_id=other_job, function_hash=b"h1"), timeout=RPC_TIMEOUT
        )
        assert not missing.found
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.stub.ExportFunction(
                gcs_pb2.ExportFunctionRequest(job_id=b"xx", function_hash=b"h", pickled=b"p"), timeout=RPC_TIMEOUT
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "job_id" in err.value.details()


@run
async def test_in_memory_storage() -> None:
    storage = InMemoryStorage()
    assert await storage.put("t", b"a1", b"1")
    assert not await storage.put("t", b"a1", b"2", overwrite=False)
    assert await storage.get("t", b"a1") == b"1"
    await storage.put("t", b"a2", b"2")
    await storage.put("t", b"b", b"3")
    assert await storage.keys("t", b"a") == [b"a1", b"a2"]
    assert await storage.get_all("t") == {b"a1": b"1", b"a2": b"2", b"b": b"3"}
    assert await storage.delete_prefix("t", b"a") == 2
    assert await storage.delete("t", b"b") and not await storage.delete("t", b"b")
    assert await storage.get("other", b"a1") is None


@run
async def test_tables_survive_a_gcs_restart_on_the_same_storage() -> None:
    storage = InMemoryStorage()
    async with cluster(storage) as c:
        raylet = await c.add_node()
        job = await c.new_job()
        await c.stub.KVPut(gcs_pb2.KVPutRequest(namespace="n", key=b"k", value=b"v"), timeout=RPC_TIMEOUT)
        node_id = raylet.node_id
    async with cluster(storage) as c:
        assert (await c.stub.KVGet(gcs_pb2.KVGetRequest(namespace="n", key=b"k"), timeout=RPC_TIMEOUT)).value == b"v"
        jobs = (await c.stub.GetAllJobs(gcs_pb2.GetAllJobsRequest(), timeout=RPC_TIMEOUT)).jobs
        assert [j.job_id for j in jobs] == [job]
        assert await c.new_job() == b"\x02\0\0\0"  # the counter persisted
        nodes = (await c.stub.GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=RPC_TIMEOUT)).nodes
        assert [n.node_id for n in nodes] == [node_id]
