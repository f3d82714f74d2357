"""The RayletServicer on its own: built from the parts it is given, no server, no gRPC.

These tests hold the servicer to its explicit dependencies: anything it
reached through a RayletServer would be missing here.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from polyray.protocol import common_pb2, raylet_pb2
from polyray.raylet.config import NodeConfig
from polyray.raylet.resources import NodeResources, ResourceSet
from polyray.raylet.service import RayletServicer
from polyray.store import StoreStats


class _Pool:
    """Records the driver registrations the servicer forwards."""

    def __init__(self) -> None:
        self.workers: dict[bytes, Any] = {}
        self.drivers: list[tuple] = []

    def register_driver(self, *args: Any) -> None:
        self.drivers.append(args)

    def prestart(self, *args: Any) -> None:
        pass


def _servicer(config: NodeConfig, stops: list[str]) -> tuple[RayletServicer, _Pool]:
    pool = _Pool()
    leases = SimpleNamespace(resources=NodeResources(ResourceSet({"CPU": 2.0})), pending_count=3)
    objects = SimpleNamespace(stats=lambda: StoreStats(1024, 100, 1, 1, 0, 0, 0))
    servicer = RayletServicer(
        config=config, leases=cast(Any, leases), pool=cast(Any, pool),
        objects=cast(Any, objects), request_stop=stops.append,
    )
    return servicer, pool


def _config(tmp_path: Any) -> NodeConfig:
    return NodeConfig(gcs_address="10.0.0.7:6379", resources={"CPU": 2.0}, session_dir=str(tmp_path))


async def test_register_driver_replies_from_the_config(tmp_path):
    config = _config(tmp_path)
    servicer, pool = _servicer(config, [])
    request = raylet_pb2.RegisterWorkerRequest(
        worker_id=b"w" * 28, language=common_pb2.PYTHON, pid=42, port=5, job_id=b"j" * 4,
        is_driver=True,
    )
    reply = await servicer.RegisterWorker(request, cast(Any, None))
    assert pool.drivers == [(b"w" * 28, common_pb2.PYTHON, 42, 5, b"j" * 4)]
    assert reply.node_id == config.node_id and reply.store_name == config.store_name
    assert (reply.gcs_address.host, reply.gcs_address.port) == ("10.0.0.7", 6379)


async def test_node_stats_come_from_the_parts(tmp_path):
    config = _config(tmp_path)
    servicer, _ = _servicer(config, [])
    reply = await servicer.GetNodeStats(raylet_pb2.GetNodeStatsRequest(), cast(Any, None))
    assert reply.node_id == config.node_id
    assert dict(reply.resources_total) == {"CPU": 2.0}
    assert (reply.store_capacity, reply.store_bytes_used, reply.store_objects) == (1024, 100, 1)
    assert reply.pending_leases == 3


async def test_shutdown_calls_the_stop_callback(tmp_path):
    stops: list[str] = []
    servicer, _ = _servicer(_config(tmp_path), stops)
    await servicer.Shutdown(raylet_pb2.ShutdownRequest(), cast(Any, None))
    assert stops == ["Shutdown RPC"]
