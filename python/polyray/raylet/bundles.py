"""Placement group bundles reserved on this node.

The GCS chooses a node for each bundle of a group and asks each node to
reserve its bundles (``PrepareBundles``): all of a node's bundles are taken
from the node's free resources at once, or none. A reserved bundle is a
small resource pool of its own: leases of tasks and actors scheduled into
the bundle draw on it, and nothing else can use it. ``CancelBundles`` gives
the reservation back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

from polyray.protocol import common_pb2, gcs_pb2, raylet_pb2
from polyray.raylet.cluster_view import ClusterView
from polyray.raylet.resources import NodeResources, ResourceSet

#: Looks a placement group up in the GCS (waiting up to the timeout for it to be created).
GroupLookup = Callable[[bytes, float], Awaitable[gcs_pb2.PlacementGroupInfo | None]]


class BundleTable:
    """(placement group id, bundle index) -> the bundle's resource pool."""

    def __init__(self, node: NodeResources) -> None:
        self._node = node
        self._pools: dict[tuple[bytes, int], NodeResources] = {}

    def prepare(self, bundles: Iterable[raylet_pb2.Bundle]) -> tuple[bool, str]:
        """Reserve every bundle not reserved yet, all or none; (ok, why not).

        Raises ValueError for a malformed bundle (negative amounts, bad index).
        """
        new: list[tuple[tuple[bytes, int], ResourceSet]] = []
        for b in bundles:
            if b.bundle_index < 0:
                raise ValueError(f"bundle_index must be >= 0, got {b.bundle_index}")
            key = (b.placement_group_id, b.bundle_index)
            if key in self._pools or any(k == key for k, _ in new):
                continue  # a retried prepare: already reserved
            new.append((key, ResourceSet(dict(b.resources))))
        total = ResourceSet()
        for _, amount in new:
            total = total + amount
        if not self._node.fits(total):
            missing = total.missing_from(self._node.available)
            return False, (
                f"the node has {self._node.available} free, short of "
                + ", ".join(f"{v:g} {k}" for k, v in sorted(missing.items()))
            )
        # Bundle by bundle, so each holds its own GPU indices (a lease in the
        # bundle then gets indices from them, hence CUDA_VISIBLE_DEVICES).
        taken: list[tuple[tuple[bytes, int], ResourceSet, tuple[str, ...]]] = []
        try:
            for key, amount in new:
                taken.append((key, amount, self._node.acquire(amount)))
        except ValueError as exc:  # GPU shares fragmented past what fits(total) saw
            for _, amount, ids in taken:
                self._node.release(amount, ids)
            return False, f"the node's GPUs cannot hold these bundles now: {exc}"
        for key, amount, ids in taken:
            self._pools[key] = NodeResources(amount, list(ids) or None)
        return True, ""

    def cancel(self, pg_id: bytes) -> list[NodeResources]:
        """Give back every bundle of ``pg_id`` reserved here; the pools removed."""
        removed = []
        for key in [k for k in self._pools if k[0] == pg_id]:
            pool = self._pools.pop(key)
            self._node.release(pool.total, tuple(pool.gpus.ids) if pool.gpus is not None else ())
            removed.append(pool)
        return removed

    def pool(self, pg_id: bytes, index: int) -> NodeResources | None:
        """The pool of one bundle, or None when it is not reserved here."""
        return self._pools.get((pg_id, index))

    def pools_of(self, pg_id: bytes) -> list[tuple[int, NodeResources]]:
        """(index, pool) of every bundle of ``pg_id`` reserved here."""
        return sorted((k[1], p) for k, p in self._pools.items() if k[0] == pg_id)

    def __len__(self) -> int:
        return len(self._pools)


async def bundle_pool(
    bundles: BundleTable, view: ClusterView, node_id: bytes, spec: common_pb2.TaskSpec, resources: ResourceSet,
    grant_or_reject: bool, lookup_group: GroupLookup | None, refresh_view: Callable[[], Awaitable[None]] | None,
) -> NodeResources | raylet_pb2.RequestWorkerLeaseReply:
    """The bundle pool here that serves ``spec``, or the reply that sends it
    elsewhere (the node holding its bundle) or fails it (group removed)."""
    strategy = spec.scheduling
    pg_id, index = strategy.placement_group_id, strategy.bundle_index
    label = f"placement group {pg_id.hex()}"
    while True:
        if index >= 0:
            pool = bundles.pool(pg_id, index)
            if pool is not None:
                return pool
        else:
            pools = [p for _, p in bundles.pools_of(pg_id) if p.can_ever_fit(resources)]
            free = [p for p in pools if p.fits(resources)]
            if free or pools:
                return (free or pools)[0]
        group = await lookup_group(pg_id, 30.0) if lookup_group is not None else None
        if group is None:
            return unschedulable(f"{label} does not exist")
        if group.state == gcs_pb2.PG_REMOVED:
            return unschedulable(f"{label} was removed")
        if index >= len(group.bundles):
            return unschedulable(
                f"bundle index {index} is out of range: {label} has {len(group.bundles)} bundle(s)")
        if group.state != gcs_pb2.PG_CREATED:
            continue  # still pending: wait (the lookup waited up to 30 s)
        nodes = list(group.bundle_nodes)
        candidates = [nodes[index]] if index >= 0 else [
            n for i, n in enumerate(nodes) if _fits_map(group.bundles[i].amounts, resources)]
        candidates = [n for n in candidates if n != node_id]
        if not candidates:
            if index < 0 and not any(_fits_map(b.amounts, resources) for b in group.bundles):
                return unschedulable(f"no bundle of {label} can hold {resources}")
            if bundles.pools_of(pg_id):
                await asyncio.sleep(0.2)  # prepared here a moment ago: look again
                continue
            return unschedulable(f"{label} has no bundle on node {node_id.hex()}")
        if grant_or_reject:
            return unschedulable(
                f"the bundle of {label} asked for is not on node {node_id.hex()}")
        node = view.get(candidates[0])
        if node is None and refresh_view is not None:
            await refresh_view()
            node = view.get(candidates[0])
        if node is None:
            return unschedulable(f"the node {candidates[0].hex()} holding a bundle of {label} is not alive")
        return raylet_pb2.RequestWorkerLeaseReply(retry_at=node.address)


def _fits_map(amounts: object, demand: ResourceSet) -> bool:
    return demand.fits_in(ResourceSet(dict(amounts)))  # type: ignore[call-overload]


def unschedulable(message: str) -> raylet_pb2.RequestWorkerLeaseReply:
    """A lease reply failing with TaskUnschedulableError."""
    return raylet_pb2.RequestWorkerLeaseReply(failure=common_pb2.ErrorRecord(
        kind=common_pb2.RUNTIME_ERROR, type_name="TaskUnschedulableError", message=message,
        language=common_pb2.PYTHON))
