"""Bad bytes and bad field values: INVALID_ARGUMENT with a message, and the GCS keeps serving."""

from __future__ import annotations

import grpc
import pytest

from polyray.protocol import common_pb2, gcs_pb2

from .harness import RPC_TIMEOUT, actor_spec, cluster, run

pytestmark = pytest.mark.timeout(30)

GARBAGE = [
    b"\xff\xff\xff\xff",  # an invalid tag
    b"\x0a\x05ab",  # a length-delimited field cut short
    b"\x0a\x02\xff\xfe",  # a string field with invalid UTF-8 (namespace of KVGet)
]


@run
async def test_garbage_bytes_are_invalid_argument_and_the_server_keeps_serving() -> None:
    async with cluster() as c:
        for method in ("KVGet", "RegisterNode", "RegisterActor", "AddJob", "PublishLogs"):
            call = c.channel.unary_unary(f"/polyray.rpc.GcsService/{method}")
            for data in GARBAGE:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await call(data, timeout=RPC_TIMEOUT)
                assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, data)
                assert "malformed" in err.value.details()
        # The server-streaming method too.
        stream = c.channel.unary_stream("/polyray.rpc.GcsService/SubscribeLogs")(GARBAGE[1], timeout=RPC_TIMEOUT)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stream.read()
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # A truncated but otherwise real message.
        whole = gcs_pb2.RegisterActorRequest(creation_task=actor_spec(b"\1\0\0\0")).SerializeToString()
        register = c.channel.unary_unary("/polyray.rpc.GcsService/RegisterActor")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await register(whole[: len(whole) // 2], timeout=RPC_TIMEOUT)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # Still serving, with the normal stubs.
        put = await c.stub.KVPut(gcs_pb2.KVPutRequest(namespace="n", key=b"k", value=b"v"), timeout=RPC_TIMEOUT)
        assert put.added
        assert await c.new_job() == b"\1\0\0\0"


@run
async def test_invalid_field_values_name_the_field() -> None:
    async with cluster() as c:
        cases = [
            (c.stub.GetActorInfo, gcs_pb2.GetActorInfoRequest(actor_id=b"\1" * 15), "actor_id"),
            (c.stub.KillActor, gcs_pb2.KillActorRequest(actor_id=b""), "actor_id"),
            (c.stub.ListActors, gcs_pb2.ListActorsRequest(job_id=b"\1" * 5), "job_id"),
            (c.stub.ReportWorkerDeath, gcs_pb2.ReportWorkerDeathRequest(worker_id=b"w"), "worker_id"),
            (c.stub.GetNamedActor, gcs_pb2.GetNamedActorRequest(name=""), "name"),
            (c.stub.GetFunction, gcs_pb2.GetFunctionRequest(job_id=b"\1\0\0\0"), "function_hash"),
            (c.stub.UnregisterNode, gcs_pb2.UnregisterNodeRequest(node_id=b"n"), "node_id"),
            (
                c.stub.RegisterActor,
                gcs_pb2.RegisterActorRequest(
                    creation_task=actor_spec(b"\1\0\0\0", resources={"CPU": float("inf")})
                ),
                "creation_task.resources['CPU']",
            ),
        ]
        for method, request, field in cases:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await method(request, timeout=RPC_TIMEOUT)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
            assert field in err.value.details(), err.value.details()
        spec = actor_spec(b"\1\0\0\0")
        spec.scheduling.kind = common_pb2.SCHEDULING_NODE_AFFINITY
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.register_actor(spec)
        assert "creation_task.scheduling.node_id" in err.value.details()


@run
async def test_an_internal_failure_is_a_status_and_the_server_keeps_serving() -> None:
    async with cluster() as c:
        async def broken_get(table: str, key: bytes) -> bytes | None:
            raise RuntimeError("disk on fire")

        real_get = c.server.storage.get
        c.server.storage.get = broken_get  # type: ignore[method-assign]
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.stub.KVGet(gcs_pb2.KVGetRequest(namespace="n", key=b"k"), timeout=RPC_TIMEOUT)
        assert err.value.code() == grpc.StatusCode.INTERNAL and "disk on fire" in err.value.details()
        c.server.storage.get = real_get  # type: ignore[method-assign]
        assert not (await c.stub.KVGet(gcs_pb2.KVGetRequest(namespace="n", key=b"k"), timeout=RPC_TIMEOUT)).found
