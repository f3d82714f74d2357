"""The raylet as a server: GCS membership, stats, bad input, clean stop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import grpc
import pytest

from polyray.protocol import auth, raylet_pb2, raylet_pb2_grpc
from polyray.raylet import NodeConfig, RayletServer
from polyray.store import SegmentNotFoundError, Store

from .fakes import FakeGcs, running_raylet, wait_for

_PYTHON_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "python"))


def _segment_exists(name: str) -> bool:
    return os.path.exists("/dev/shm" + name)


async def test_registers_and_heartbeats(tmp_path):
    async with running_raylet(tmp_path, resources={"CPU": 2, "GPU": 1, "disk": 0.5}) as h:
        (node,) = h.gcs.registered
        assert node.node_id == h.config.node_id
        assert node.raylet_address.port == h.raylet.port
        assert node.store_name == h.config.store_name
        assert dict(node.resources_total) == {"CPU": 2.0, "GPU": 1.0, "disk": 0.5}
        await wait_for(lambda: len(h.gcs.heartbeats) >= 2, what="heartbeats")
        assert dict(h.gcs.heartbeats[-1].resources_available)["CPU"] == 2.0
        await h.lease()
        await wait_for(
            lambda: h.gcs.heartbeats[-1].resources_available["CPU"] == 1.0,
            what="heartbeat with the lease's CPU taken",
        )


async def test_get_node_stats(tmp_path):
    async with running_raylet(tmp_path) as h:
        client = Store.open(h.config.store_name)
        try:
            client.put(os.urandom(28), b"x" * 4096)
            reply = await h.lease()
            stats = await h.stats()
            assert stats.node_id == h.config.node_id
            assert dict(stats.resources_total) == {"CPU": 2.0}
            assert dict(stats.resources_available) == {"CPU": 1.0}
            assert stats.store_capacity > 0 and stats.store_objects == 1
            assert stats.store_bytes_used >= 4096
            (worker,) = stats.workers
            assert worker.worker_id == reply.worker_address.worker_id
            assert worker.pid == reply.worker_pid and worker.port == reply.worker_address.port
            assert worker.leased and worker.job_id == bytes.fromhex("01000000")
            assert stats.pending_leases == 0
        finally:
            client.close()


async def test_malformed_messages_are_invalid_argument(tmp_path):
    async with running_raylet(tmp_path) as h:
        for method in ("GetNodeStats", "RequestWorkerLease", "PinObjects"):
            raw = h.channel.unary_unary(f"/polyray.rpc.RayletService/{method}")
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await raw(b"\xff\xff\xff\xff", timeout=5)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, method
            assert f"malformed {method} request" in err.value.details()
        raw_stream = h.channel.unary_stream("/polyray.rpc.RayletService/ReadObject")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for _ in raw_stream(b"\x0a\xff", timeout=5):
                pass
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # Well-formed messages with bad values are rejected with what is wrong.
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.stub.PinObjects(raylet_pb2.PinObjectsRequest(object_ids=[b"short"]), timeout=5)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "PinObjectsRequest.object_ids[0]: 5 bytes, expected 28" in err.value.details()
        # ...and the server keeps serving.
        assert (await h.stats()).node_id == h.config.node_id


async def test_stop_leaves_no_process_and_no_segment(tmp_path):
    async with running_raylet(tmp_path) as h:
        leased = await h.lease()
        idle = await h.lease()
        await h.give_back(idle)
        pids = [leased.worker_pid, idle.worker_pid]
        assert _segment_exists(h.config.store_name)
        await h.raylet.stop()
        assert not any(_alive(pid) for pid in pids)
        assert not _segment_exists(h.config.store_name)
        with pytest.raises(SegmentNotFoundError):
            Store.open(h.config.store_name)
        (gone,) = h.gcs.unregistered
        assert gone.node_id == h.config.node_id
        # Workers stopped by the raylet are not crashes (recorded for owners only).
        assert all(d.stopped_by_raylet for d in h.gcs.deaths)


async def test_node_declared_dead_shuts_down(tmp_path):
    async with running_raylet(tmp_path) as h:
        reply = await h.lease()
        h.gcs.node_dead = True
        await asyncio.wait_for(h.raylet.wait_stopped(), 10)
        assert not _alive(reply.worker_pid)
        assert not _segment_exists(h.config.store_name)


async def test_shutdown_rpc(tmp_path):
    async with running_raylet(tmp_path) as h:
        await h.stub.Shutdown(raylet_pb2.ShutdownRequest(), timeout=5)
        await asyncio.wait_for(h.raylet.wait_stopped(), 10)
        assert not _segment_exists(h.config.store_name)


async def test_start_fails_cleanly_without_gcs(tmp_path):
    gcs = FakeGcs()
    address = await gcs.start()
    await gcs.stop()  # nothing listens there any more
    config = NodeConfig(
        gcs_address=address, session_dir=str(tmp_path), gcs_connect_timeout_s=0.5,
        object_store_memory=1 << 20,
    )
    raylet = RayletServer(config)
    with pytest.raises(ConnectionError, match="cannot register with the GCS"):
        await raylet.start()
    assert not _segment_exists(config.store_name)


def test_config_validation():
    with pytest.raises(ValueError, match="'GPU' must not be negative"):
        NodeConfig.build("127.0.0.1:1", num_cpus=1, num_gpus=-1)
    with pytest.raises(ValueError, match="'disk' must not be negative"):
        NodeConfig(gcs_address="127.0.0.1:1", resources={"CPU": 1, "disk": -0.5})
    config = NodeConfig.build("127.0.0.1:1", num_cpus=2, memory=1e9, custom_resources={"tpu": 4})
    assert config.resources == {"CPU": 2.0, "memory": 1e9, "tpu": 4.0}
    assert config.store_name.startswith(f"/polyray-{config.node_id.hex()[:12]}-")
    assert config.start_timeout_for(1) == 60.0  # Java starts slower


async def test_command_line_raylet(tmp_path):
    gcs = FakeGcs()
    address = await gcs.start()
    env = dict(os.environ, PYTHONPATH=_PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "polyray.raylet", "--gcs-address", address, "--num-cpus", "3",
        "--object-store-memory", str(1 << 20), "--session-dir", str(tmp_path),
        stdout=subprocess.PIPE, env=env,
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert line.startswith(b"RAYLET_PORT="), line
        port = int(line.split(b"=")[1])
        async with auth.aio_channel(f"127.0.0.1:{port}") as channel:
            stats = await raylet_pb2_grpc.RayletServiceStub(channel).GetNodeStats(
                raylet_pb2.GetNodeStatsRequest(), timeout=5
            )
        assert dict(stats.resources_total)["CPU"] == 3.0
        (node,) = gcs.registered
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        assert not _segment_exists(node.store_name)
        assert len(gcs.unregistered) == 1
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await gcs.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
