"""The node table: raylets register, heartbeat their free resources, and are
declared dead when heartbeats stop; listeners (the actor directory) learn of
deaths and of freed resources."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import grpc

from polyray.protocol import common_pb2, gcs_pb2, labels, raylet_pb2

from .background import BackgroundTasks, log
from .config import GcsConfig
from .errors import failed_precondition, not_found
from .storage import Storage
from .validation import NODE_ID_SIZE, check_address, check_id, check_resources

NodeDeadListener = Callable[[bytes, str], None]
ResourcesListener = Callable[[], None]

# Resources compare with a small tolerance: fractional amounts (0.1 CPU) add up
# with rounding errors.
_EPS = 1e-9


def fits(available: Mapping[str, float], demand: Mapping[str, float]) -> bool:
    """True when every demanded amount is available."""
    return all(available.get(name, 0.0) + _EPS >= amount for name, amount in demand.items() if amount > 0)


class NodeTable:
    """Nodes by ID, with liveness from heartbeats. Serves the node RPCs."""

    TABLE = "nodes"

    def __init__(self, storage: Storage, config: GcsConfig) -> None:
        """Create an empty table over ``storage``."""
        self._storage = storage
        self._config = config
        self._nodes: dict[bytes, gcs_pb2.NodeInfo] = {}
        # Monotonic time of the last sign of life, for alive nodes only: wall
        # clock jumps must not kill nodes.
        self._last_seen: dict[bytes, float] = {}
        self._write_lock = asyncio.Lock()
        self._tasks = BackgroundTasks()
        self._monitor: asyncio.Task[None] | None = None
        self.node_dead_listeners: list[NodeDeadListener] = []
        self.resources_listeners: list[ResourcesListener] = []

    # -- lifecycle ---------------------------------------------------------

    async def load(self) -> None:
        """Read nodes back from storage; alive ones get a fresh timeout."""
        now = time.monotonic()
        for key, value in (await self._storage.get_all(self.TABLE)).items():
            node = gcs_pb2.NodeInfo.FromString(value)
            self._nodes[key] = node
            if node.alive:
                self._last_seen[key] = now

    def start(self) -> None:
        """Start the heartbeat monitor."""
        self._monitor = asyncio.get_running_loop().create_task(self._watch(), name="gcs-node-monitor")

    async def stop(self) -> None:
        """Stop the monitor and pending writes."""
        if self._monitor is not None:
            self._monitor.cancel()
            await asyncio.gather(self._monitor, return_exceptions=True)
        await self._tasks.cancel_all()

    # -- queries used by other tables -------------------------------------

    def get(self, node_id: bytes) -> gcs_pb2.NodeInfo | None:
        """The node, alive or dead, or None."""
        return self._nodes.get(node_id)

    def is_alive(self, node_id: bytes) -> bool:
        """True for a registered node not declared dead."""
        node = self._nodes.get(node_id)
        return node is not None and node.alive

    def alive_nodes(self) -> list[gcs_pb2.NodeInfo]:
        """Alive nodes, in registration order."""
        return [n for n in self._nodes.values() if n.alive]

    def pick(
        self,
        demand: Mapping[str, float],
        preferred: bytes = b"",
        strategy: common_pb2.SchedulingStrategy | None = None,
    ) -> gcs_pb2.NodeInfo | None:
        """An alive node whose available resources fit ``demand``, or None.

        NODE_AFFINITY picks only its node (or falls back when soft); otherwise
        the preferred node (the caller's) wins when it fits, else the fitting
        node with the largest free share of CPU, so load spreads.
        """
        kind = strategy.kind if strategy is not None else common_pb2.SCHEDULING_DEFAULT
        if kind == common_pb2.SCHEDULING_NODE_AFFINITY and strategy is not None:
            node = self._nodes.get(strategy.node_id)
            if node is not None and node.alive and fits(node.resources_available, demand):
                return node
            if not strategy.soft:
                return None
        alive = [n for n in self._nodes.values() if n.alive]
        selectors = labels.chain(strategy) if strategy is not None and kind != common_pb2.SCHEDULING_NODE_AFFINITY \
            else []
        if selectors:
            # The first selector (label_selector, then fallback_strategy) that a
            # node able to ever hold the actor matches; none: the actor waits.
            chosen = labels.first_matching(selectors, [(n.labels, fits(n.resources_total, demand)) for n in alive])
            if chosen is None:
                return None
            alive = [n for n in alive if labels.matches(chosen, n.labels)]
        candidates = [n for n in alive if fits(n.resources_available, demand)]
        if not candidates:
            return None
        if kind != common_pb2.SCHEDULING_SPREAD:
            for node in candidates:
                if node.node_id == preferred:
                    return node

        def free_share(node: gcs_pb2.NodeInfo) -> float:
            total = node.resources_total.get("CPU", 0.0)
            return node.resources_available.get("CPU", 0.0) / total if total > 0 else 0.0

        return max(candidates, key=free_share)

    def unmatched_selectors(self, demand: Mapping[str, float],
                            strategy: common_pb2.SchedulingStrategy | None) -> str:
        """Why no node can take a request for its labels: every alive node able to ever hold
        ``demand`` fails the strategy's label_selector and each fallback selector (as
        :meth:`pick` applies them). Empty when some node matches, or there are no selectors."""
        if strategy is None or strategy.kind == common_pb2.SCHEDULING_NODE_AFFINITY:
            return ""
        selectors = labels.chain(strategy)
        if not selectors:
            return ""
        alive = [n for n in self._nodes.values() if n.alive]
        able = [(n.labels, fits(n.resources_total, demand)) for n in alive]
        if labels.first_matching(selectors, able) is not None:
            return ""
        return (f"no node that could hold {dict(demand)} has labels matching its label_selector {selectors[0]}"
                + (f" or its fallback_strategy {selectors[1:]}" if len(selectors) > 1 else ""))

    def reserve(self, node_id: bytes, demand: Mapping[str, float]) -> None:
        """Subtract ``demand`` from our view of the node until its next heartbeat,
        so several actors placed at once do not all land on one node."""
        node = self._nodes.get(node_id)
        if node is None:
            return
        for name, amount in demand.items():
            if name in node.resources_available:
                node.resources_available[name] = max(0.0, node.resources_available[name] - amount)

    # -- RPCs ----------------------------------------------------------------

    async def RegisterNode(
        self, request: gcs_pb2.RegisterNodeRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.RegisterNodeReply:
        """Add a node (or accept a retried registration of an alive one)."""
        info = request.node
        check_id(info.node_id, "node.node_id", NODE_ID_SIZE)
        check_address(info.raylet_address, "node.raylet_address")
        check_resources(info.resources_total, "node.resources_total")
        check_resources(info.resources_available, "node.resources_available")
        existing = self._nodes.get(info.node_id)
        if existing is not None and not existing.alive:
            # Node IDs are never reused: a raylet that was declared dead must
            # start over with a new ID, or its old actors could come back.
            raise failed_precondition(
                f"node {info.node_id.hex()} was declared dead ({existing.death_reason}); "
                "restart the raylet with a new node id"
            )
        node = gcs_pb2.NodeInfo()
        node.CopyFrom(info)
        now = time.time()
        node.alive = True
        node.death_reason = ""
        node.start_time = node.start_time or now
        node.last_heartbeat = now
        if not node.resources_available:
            node.resources_available.update(node.resources_total)
        if not node.raylet_address.node_id:
            node.raylet_address.node_id = node.node_id
        self._nodes[node.node_id] = node
        self._last_seen[node.node_id] = time.monotonic()
        await self._persist(node.node_id)
        log.info("node %s registered at %s:%d", node.node_id.hex(), node.raylet_address.host, node.raylet_address.port)
        self._resources_changed()
        return gcs_pb2.RegisterNodeReply(heartbeat_interval_s=self._config.effective_heartbeat_interval())

    async def Heartbeat(
        self, request: gcs_pb2.HeartbeatRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.HeartbeatReply:
        """Record a sign of life and the node's free resources."""
        check_id(request.node_id, "node_id", NODE_ID_SIZE)
        check_resources(request.resources_available, "resources_available")
        node = self._nodes.get(request.node_id)
        if node is None:
            # e.g. the GCS restarted on empty storage: the raylet should register again.
            raise not_found(f"node {request.node_id.hex()} is not registered")
        if not node.alive:
            return gcs_pb2.HeartbeatReply(node_dead=True)
        self._last_seen[node.node_id] = time.monotonic()
        node.last_heartbeat = time.time()
        # Heartbeats are not persisted: they are frequent and volatile.
        node.resources_available.clear()
        node.resources_available.update(request.resources_available)
        self._resources_changed()
        return gcs_pb2.HeartbeatReply()

    async def UnregisterNode(
        self, request: gcs_pb2.UnregisterNodeRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.UnregisterNodeReply:
        """A raylet leaving on purpose: the node is dead from now on."""
        check_id(request.node_id, "node_id", NODE_ID_SIZE)
        if request.node_id not in self._nodes:
            raise not_found(f"node {request.node_id.hex()} is not registered")
        self.mark_dead(request.node_id, f"unregistered: {request.reason or 'no reason given'}")
        return gcs_pb2.UnregisterNodeReply()

    async def GetAllNodes(
        self, request: gcs_pb2.GetAllNodesRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.GetAllNodesReply:
        """Every node ever registered, alive or dead."""
        return gcs_pb2.GetAllNodesReply(nodes=list(self._nodes.values()))

    def free_owned_objects(self, raylets: Callable[[common_pb2.Address], Any], owner_worker_id: bytes) -> None:
        """Tell every alive raylet to free the copies it pins for a dead owner
        (``raylets`` gives a RayletService stub for an address); best effort,
        in the background, each call bounded by rpc_timeout_s."""
        request = raylet_pb2.FreeObjectsRequest(owner_worker_id=owner_worker_id)

        async def free(node: gcs_pb2.NodeInfo) -> None:
            try:
                await raylets(node.raylet_address).FreeObjects(request, timeout=self._config.rpc_timeout_s)
            except grpc.aio.AioRpcError as exc:
                log.warning("node %s could not free the objects of dead owner %s: %s",
                            node.node_id.hex(), owner_worker_id.hex(), exc.code().name)

        for node in self.alive_nodes():
            self._tasks.spawn(free(node), name="free-owner-objects")

    # -- death -------------------------------------------------------------

    def mark_dead(self, node_id: bytes, reason: str) -> None:
        """Declare a node dead (idempotent) and tell the listeners."""
        node = self._nodes.get(node_id)
        if node is None or not node.alive:
            return
        node.alive = False
        node.death_reason = reason
        node.resources_available.clear()
        self._last_seen.pop(node_id, None)
        log.warning("node %s is dead: %s", node_id.hex(), reason)
        self._tasks.spawn(self._persist(node_id), name="persist-node")
        for listener in self.node_dead_listeners:
            listener(node_id, reason)

    async def _watch(self) -> None:
        timeout = self._config.node_timeout_s
        # Check often enough that a death is noticed within ~20% of the timeout.
        period = max(0.02, min(1.0, timeout / 5))
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for node_id, seen in list(self._last_seen.items()):
                if now - seen > timeout:
                    self.mark_dead(
                        node_id, f"no heartbeat for {now - seen:.1f} s (node_timeout_s={timeout:g})"
                    )

    def _resources_changed(self) -> None:
        for listener in self.resources_listeners:
            listener()

    async def _persist(self, node_id: bytes) -> None:
        # Serialize under the lock: whichever write runs last stores the latest state.
        async with self._write_lock:
            node = self._nodes.get(node_id)
            if node is not None:
                await self._storage.put(self.TABLE, node_id, node.SerializeToString())
