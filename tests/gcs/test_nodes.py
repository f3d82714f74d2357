"""Node table: registration, heartbeats, death after missed heartbeats."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from polyray.protocol import gcs_pb2

from .harness import RPC_TIMEOUT, cluster, eventually, run

pytestmark = pytest.mark.timeout(30)


@run
async def test_register_and_list_nodes() -> None:
    async with cluster() as c:
        a = await c.add_node({"CPU": 4.0, "GPU": 1.0})
        b = await c.add_node({"CPU": 2.0})
        nodes = (await c.stub.GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=RPC_TIMEOUT)).nodes
        by_id = {n.node_id: n for n in nodes}
        assert set(by_id) == {a.node_id, b.node_id}
        node = by_id[a.node_id]
        assert node.alive and node.start_time > 0 and node.last_heartbeat > 0
        assert dict(node.resources_total) == {"CPU": 4.0, "GPU": 1.0}
        # Available starts as total when the raylet does not say otherwise.
        assert dict(node.resources_available) == {"CPU": 4.0, "GPU": 1.0}
        assert node.raylet_address.port == a.port


@run
async def test_register_reply_carries_heartbeat_interval() -> None:
    async with cluster(node_timeout_s=3.0) as c:
        raylet = await c.add_node(register=False)
        reply = await c.stub.RegisterNode(
            gcs_pb2.RegisterNodeRequest(node=raylet.node_info({"CPU": 1.0})), timeout=RPC_TIMEOUT
        )
        assert 0 < reply.heartbeat_interval_s < 3.0


@run
async def test_heartbeat_updates_available_resources() -> None:
    async with cluster() as c:
        raylet = await c.add_node({"CPU": 4.0})
        reply = await c.stub.Heartbeat(
            gcs_pb2.HeartbeatRequest(node_id=raylet.node_id, resources_available={"CPU": 1.5}), timeout=RPC_TIMEOUT
        )
        assert not reply.node_dead
        (node,) = (await c.stub.GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=RPC_TIMEOUT)).nodes
        assert dict(node.resources_available) == {"CPU": 1.5}
        assert dict(node.resources_total) == {"CPU": 4.0}


@run
async def test_node_dies_after_missed_heartbeats() -> None:
    async with cluster(node_timeout_s=0.4) as c:
        quiet = await c.add_node()
        chatty = await c.add_node()

        async def beat() -> None:
            while True:
                await c.stub.Heartbeat(gcs_pb2.HeartbeatRequest(node_id=chatty.node_id), timeout=RPC_TIMEOUT)
                await asyncio.sleep(0.05)

        beating = asyncio.create_task(beat())
        try:
            await eventually(lambda: not c.server.nodes.is_alive(quiet.node_id), timeout=5)
            assert c.server.nodes.is_alive(chatty.node_id)
        finally:
            beating.cancel()
        reply = await c.stub.GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=RPC_TIMEOUT)
        nodes = {n.node_id: n for n in reply.nodes}
        assert not nodes[quiet.node_id].alive
        assert "no heartbeat" in nodes[quiet.node_id].death_reason
        assert nodes[chatty.node_id].alive
        # A late heartbeat from the dead node is told to exit.
        reply = await c.stub.Heartbeat(gcs_pb2.HeartbeatRequest(node_id=quiet.node_id), timeout=RPC_TIMEOUT)
        assert reply.node_dead
        # And it cannot come back under the same ID.
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.register(quiet)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@run
async def test_unregister_node() -> None:
    async with cluster() as c:
        raylet = await c.add_node()
        await c.stub.UnregisterNode(
            gcs_pb2.UnregisterNodeRequest(node_id=raylet.node_id, reason="drained"), timeout=RPC_TIMEOUT
        )
        (node,) = (await c.stub.GetAllNodes(gcs_pb2.GetAllNodesRequest(), timeout=RPC_TIMEOUT)).nodes
        assert not node.alive and "drained" in node.death_reason


@run
async def test_heartbeat_from_unknown_node_is_not_found() -> None:
    async with cluster() as c:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.stub.Heartbeat(gcs_pb2.HeartbeatRequest(node_id=b"n" * 28), timeout=RPC_TIMEOUT)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


@run
async def test_invalid_node_fields() -> None:
    async with cluster() as c:
        raylet = await c.add_node(register=False)
        bad_id = raylet.node_info({"CPU": 1.0})
        bad_id.node_id = b"short"
        bad_resources = raylet.node_info({"CPU": -1.0})
        no_port = raylet.node_info({"CPU": 1.0})
        no_port.raylet_address.port = 0
        for info, field in [
            (bad_id, "node.node_id"),
            (bad_resources, "node.resources_total"),
            (no_port, "node.raylet_address.port"),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await c.stub.RegisterNode(gcs_pb2.RegisterNodeRequest(node=info), timeout=RPC_TIMEOUT)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field in err.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.stub.Heartbeat(
                gcs_pb2.HeartbeatRequest(node_id=raylet.node_id, resources_available={"CPU": float("nan")}),
                timeout=RPC_TIMEOUT,
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
