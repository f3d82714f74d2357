"""Where each node's raylet is, as the GCS node table says (for object transfer and frees)."""

from __future__ import annotations

import time
from typing import Protocol

import grpc

from polyray.protocol import common_pb2 as pb
from polyray.protocol import gcs_pb2 as gcs
from polyray.protocol import gcs_pb2_grpc as gcs_grpc


class GcsConnection(Protocol):
    """Where the GCS is (Connections in production)."""

    @property
    def gcs(self) -> gcs_grpc.GcsServiceStub: ...

# A miss refreshes the table at most this often (a dead node is asked about often).
_MIN_REFRESH_S = 0.5
_RPC_TIMEOUT_S = 10.0


class NodeDirectory:
    """Node id -> raylet address and liveness, cached from ``GetAllNodes``.

    Runs on the CoreWorker's event loop.
    """

    def __init__(self, connections: GcsConnection) -> None:
        self._connections = connections
        self._nodes: dict[bytes, gcs.NodeInfo] = {}
        self._refreshed = 0.0

    async def refresh(self) -> None:
        """Reload the node table (errors leave the cached one in place)."""
        self._refreshed = time.monotonic()
        try:
            reply = await self._connections.gcs.GetAllNodes(gcs.GetAllNodesRequest(), timeout=_RPC_TIMEOUT_S)
        except grpc.aio.AioRpcError:
            return
        self._nodes = {n.node_id: n for n in reply.nodes}

    async def raylet(self, node_id: bytes) -> tuple[pb.Address | None, str]:
        """(the raylet address of an alive node, "") or (None, why it cannot be reached)."""
        node = self._nodes.get(node_id)
        if (node is None or not node.alive) and time.monotonic() - self._refreshed > _MIN_REFRESH_S:
            await self.refresh()
            node = self._nodes.get(node_id)
        if node is None:
            return None, f"node {node_id.hex()} is not a node of this cluster"
        if not node.alive:
            return None, f"node {node_id.hex()} is dead ({node.death_reason or 'no reason recorded'})"
        address = pb.Address()
        address.CopyFrom(node.raylet_address)
        address.node_id = node_id
        return address, ""

    def forget(self, node_id: bytes) -> None:
        """Drop a node whose raylet did not answer, so the next lookup asks the GCS."""
        node = self._nodes.get(node_id)
        if node is not None:
            self._refreshed = 0.0
