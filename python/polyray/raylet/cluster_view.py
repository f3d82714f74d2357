"""The raylet's view of the other nodes of the cluster, for spill-over.

The view is the GCS node table (``GetAllNodes``), refreshed after every
heartbeat, so another node's free resources are at most one heartbeat
interval old. When this raylet sends a lease request to another node it
subtracts the request from its copy of that node's free resources until the
next refresh, so a burst of requests does not all go to the same node.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from polyray.protocol import common_pb2, gcs_pb2

log = logging.getLogger(__name__)

# Resources compare with a small tolerance (fractional amounts).
_EPS = 1e-9


def fits(available: Mapping[str, float], demand: Mapping[str, float]) -> bool:
    """True when every demanded amount is in ``available``."""
    return all(available.get(k, 0.0) + _EPS >= v for k, v in demand.items() if v > 0)


class RemoteNode:
    """What this raylet knows of another alive node."""

    __slots__ = ("node_id", "address", "total", "available", "labels")

    def __init__(self, info: gcs_pb2.NodeInfo) -> None:
        self.node_id: bytes = info.node_id
        self.address = common_pb2.Address()
        self.address.CopyFrom(info.raylet_address)
        self.address.node_id = info.node_id
        self.total: dict[str, float] = dict(info.resources_total)
        self.available: dict[str, float] = dict(info.resources_available)
        self.labels: dict[str, str] = dict(info.labels)

    def cpu_share(self) -> float:
        """Free CPUs as a share of the node's CPUs (0 for a node with none)."""
        total = self.total.get("CPU", 0.0)
        return self.available.get("CPU", 0.0) / total if total > 0 else 0.0


class ClusterView:
    """The alive nodes other than this one, as last reported by the GCS."""

    def __init__(self, self_id: bytes) -> None:
        self._self_id = self_id
        self._nodes: dict[bytes, RemoteNode] = {}
        self._dead: set[bytes] = set()
        self._spread_next = 0

    def update(self, nodes: Iterable[gcs_pb2.NodeInfo]) -> None:
        """Replace the view with the GCS's node table."""
        fresh: dict[bytes, RemoteNode] = {}
        for info in nodes:
            if info.node_id == self._self_id:
                continue
            if info.alive:
                fresh[info.node_id] = RemoteNode(info)
            else:
                self._dead.add(info.node_id)
        self._nodes = fresh

    def others(self) -> list[RemoteNode]:
        """The other alive nodes, in registration order."""
        return list(self._nodes.values())

    def get(self, node_id: bytes) -> RemoteNode | None:
        """An alive other node, or None."""
        return self._nodes.get(node_id)

    def is_dead(self, node_id: bytes) -> bool:
        """True for a node the GCS declared dead."""
        return node_id in self._dead

    def best_available(self, demand: Mapping[str, float],
                       allow: Callable[[RemoteNode], bool] | None = None) -> RemoteNode | None:
        """The other node with the largest free CPU share among those where
        ``demand`` fits now (and ``allow`` holds), or None."""
        fitting = [n for n in self._nodes.values() if fits(n.available, demand) and (allow is None or allow(n))]
        return max(fitting, key=RemoteNode.cpu_share) if fitting else None

    def any_feasible(self, demand: Mapping[str, float],
                     allow: Callable[[RemoteNode], bool] | None = None) -> RemoteNode | None:
        """The other node whose total fits ``demand`` (and ``allow`` holds)
        with the most free CPU share, or None."""
        fitting = [n for n in self._nodes.values() if fits(n.total, demand) and (allow is None or allow(n))]
        return max(fitting, key=RemoteNode.cpu_share) if fitting else None

    def next_spread(self, count: int) -> int:
        """A round-robin counter for SPREAD: 0..count-1, a different one each call."""
        value = self._spread_next % max(1, count)
        self._spread_next += 1
        return value

    def charge(self, node: RemoteNode, demand: Mapping[str, float]) -> None:
        """Take ``demand`` off our copy of ``node``'s free resources (until the next refresh)."""
        for k, v in demand.items():
            if k in node.available:
                node.available[k] = max(0.0, node.available[k] - v)

    def describe(self) -> str:
        """The other nodes' totals, for messages."""
        if not self._nodes:
            return "no other alive node"
        return "; ".join(
            f"node {n.node_id.hex()[:12]}: {_fmt(n.total)}" for n in self._nodes.values()
        )


def _fmt(amounts: Mapping[str, float]) -> str:
    return "{" + ", ".join(f"{k}: {v:g}" for k, v in sorted(amounts.items())) + "}"
