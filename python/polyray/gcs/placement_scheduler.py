"""Reserving placement groups on raylets, all bundles or none.

For a pending group the scheduler plans a node per bundle
(``placement_planner.plan``) from the node table's free resources, then asks
each chosen raylet to reserve its bundles (``PrepareBundles``, concurrently).
When every node agrees the group is CREATED; when one refuses or cannot be
reached, the bundles reserved elsewhere are released (``CancelBundles``) and
the group waits for the next change of the cluster's resources. A group with
a bundle on a node that dies is released everywhere and placed again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc

from polyray.protocol import gcs_pb2, raylet_pb2

from .background import BackgroundTasks, log
from .clients import ClientPool
from .config import GcsConfig
from .node_table import NodeTable
from .placement_planner import describe_shortfall, plan

#: A failed reservation is not tried again for this long (unless resources change).
RETRY_PAUSE_S = 0.5


class PlacementScheduler:
    """Places pending groups; ``on_created`` is called when one is reserved."""

    def __init__(self, nodes: NodeTable, pool: ClientPool, config: GcsConfig,
                 on_created: Callable[[bytes, list[bytes]], None]) -> None:
        self._nodes = nodes
        self._pool = pool
        self._config = config
        self._on_created = on_created
        self._groups: dict[bytes, gcs_pb2.PlacementGroupInfo] = {}  # the pending ones
        self._reserving: dict[bytes, asyncio.Task[None]] = {}
        self._not_before: dict[bytes, float] = {}
        self._tasks = BackgroundTasks()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, group: gcs_pb2.PlacementGroupInfo) -> None:
        """Start placing a pending group."""
        self._groups[group.placement_group_id] = group
        self.schedule()

    def discard(self, pg_id: bytes, bundle_nodes: list[bytes]) -> None:
        """The group was removed (or must be placed again): stop placing it and
        release what it holds on ``bundle_nodes``."""
        self._groups.pop(pg_id, None)
        task = self._reserving.pop(pg_id, None)
        if task is not None:
            task.cancel()  # its own clean-up releases what it prepared
        for node_id in set(bundle_nodes):
            self._tasks.spawn(self._cancel(node_id, pg_id), name="cancel-bundles")

    def schedule(self) -> None:
        """Try every pending group that is not being reserved now."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        for pg_id, group in list(self._groups.items()):
            if pg_id in self._reserving:
                continue
            if self._not_before.get(pg_id, 0.0) > now:
                self._arm_timer(self._not_before[pg_id])
                continue
            alive = self._nodes.alive_nodes()
            nodes = [(n.node_id, n.resources_available) for n in alive]
            bundles = [b.amounts for b in group.bundles]
            chosen = plan(group.strategy, bundles, nodes)
            if chosen is None:
                log.debug("placement group %s waits: %s", pg_id.hex(),
                          describe_shortfall(group.strategy, bundles, nodes))
                continue
            for node_id, bundle in zip(chosen, bundles):
                self._nodes.reserve(node_id, bundle)
            self._reserving[pg_id] = self._tasks.spawn(self._reserve(group, chosen), name=f"reserve-{pg_id.hex()}")

    def _arm_timer(self, when: float) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.schedule()

    async def _reserve(self, group: gcs_pb2.PlacementGroupInfo, chosen: list[bytes]) -> None:
        pg_id = group.placement_group_id
        per_node: dict[bytes, list[raylet_pb2.Bundle]] = {}
        for index, (node_id, bundle) in enumerate(zip(chosen, group.bundles)):
            per_node.setdefault(node_id, []).append(
                raylet_pb2.Bundle(placement_group_id=pg_id, bundle_index=index, resources=bundle.amounts))
        ok = False
        try:
            results = await asyncio.gather(
                *(self._prepare(node_id, bundles) for node_id, bundles in per_node.items()))
            failures = [why for done, why in results if not done]
            if failures:
                log.info("placement group %s not reserved yet: %s", pg_id.hex(), "; ".join(failures))
                return
            ok = True
        finally:
            if self._reserving.get(pg_id) is asyncio.current_task():
                del self._reserving[pg_id]
            if not ok:
                # Every node asked (a cancelled attempt may have prepared anywhere);
                # CancelBundles of nothing is harmless.
                for node_id in per_node:
                    self._tasks.spawn(self._cancel(node_id, pg_id), name="cancel-bundles")
                if pg_id in self._groups:
                    self._not_before[pg_id] = asyncio.get_running_loop().time() + RETRY_PAUSE_S
                    self._arm_timer(self._not_before[pg_id])
        self._groups.pop(pg_id, None)
        self._not_before.pop(pg_id, None)
        self._on_created(pg_id, chosen)

    async def _prepare(self, node_id: bytes, bundles: list[raylet_pb2.Bundle]) -> tuple[bool, str]:
        node = self._nodes.get(node_id)
        if node is None or not node.alive:
            return False, f"node {node_id.hex()} is not alive"
        try:
            reply = await self._pool.raylet(node.raylet_address).PrepareBundles(
                raylet_pb2.PrepareBundlesRequest(bundles=bundles), timeout=self._config.rpc_timeout_s)
        except grpc.aio.AioRpcError as err:
            return False, f"PrepareBundles at node {node_id.hex()} failed: {err.code().name} {err.details()}"
        return reply.success, f"node {node_id.hex()}: {reply.message}"

    async def _cancel(self, node_id: bytes, pg_id: bytes) -> None:
        node = self._nodes.get(node_id)
        if node is None or not node.alive:
            return
        try:
            await self._pool.raylet(node.raylet_address).CancelBundles(
                raylet_pb2.CancelBundlesRequest(placement_group_id=pg_id), timeout=self._config.rpc_timeout_s)
        except grpc.aio.AioRpcError as err:
            log.warning("CancelBundles of %s at node %s failed: %s", pg_id.hex(), node_id.hex(), err.code().name)

    async def stop(self) -> None:
        """Stop placing; cancel reservations in flight."""
        if self._timer is not None:
            self._timer.cancel()
        await self._tasks.cancel_all()
