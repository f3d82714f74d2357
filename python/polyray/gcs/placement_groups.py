"""Placement groups: the table, its RPCs, and the group life cycle.

PG_PENDING until the scheduler (``placement_scheduler.py``) has reserved every
bundle on the nodes it chose; then PG_CREATED with ``bundle_nodes``. A group
with a bundle on a node that dies goes back to PG_PENDING and is placed
again. Removal (or the end of its job) releases its bundles: PG_REMOVED."""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable

import grpc

from polyray.protocol import common_pb2, gcs_pb2
from polyray.protocol.runtime_spec import STATE_MAX_PLACEMENT_GROUPS_PER_REPLY

from .background import BackgroundTasks, log
from .errors import already_exists, invalid_argument, not_found
from .storage import Storage
from .validation import JOB_ID_SIZE, PLACEMENT_GROUP_ID_SIZE, check_id, check_resources
from .waiting import Notifier, wait_deadline


class PlacementGroups:
    """CreatePlacementGroup / RemovePlacementGroup / GetPlacementGroup / ListPlacementGroups."""

    TABLE = "placement_groups"

    def __init__(self, storage: Storage, scheduler_factory: Callable[..., object] | None = None) -> None:
        """Create an empty table over ``storage``. ``scheduler_factory(on_created)``
        makes the PlacementScheduler (None: groups stay pending, for tests)."""
        self._storage = storage
        self._scheduler = scheduler_factory(self._created) if scheduler_factory is not None else None
        #: Called (no arguments) when a group is created: actors waiting for it are placed.
        self.created_listeners: list[Callable[[], None]] = []
        self._groups: dict[bytes, gcs_pb2.PlacementGroupInfo] = {}
        self._changed: dict[bytes, Notifier] = {}
        self._write_lock = asyncio.Lock()
        self._tasks = BackgroundTasks()

    async def load(self) -> None:
        """Read groups back from storage."""
        for key, value in (await self._storage.get_all(self.TABLE)).items():
            self._groups[key] = gcs_pb2.PlacementGroupInfo.FromString(value)
            self._changed[key] = Notifier()

    def start(self) -> None:
        """Place the groups still pending (after a restart)."""
        for group in self._groups.values():
            if group.state == gcs_pb2.PG_PENDING and self._scheduler is not None:
                self._scheduler.add(group)  # type: ignore[attr-defined]

    async def stop(self) -> None:
        """Cancel pending writes and placements."""
        if self._scheduler is not None:
            await self._scheduler.stop()  # type: ignore[attr-defined]
        await self._tasks.cancel_all()

    # -- placement ----------------------------------------------------------

    def get(self, pg_id: bytes) -> gcs_pb2.PlacementGroupInfo | None:
        """A group, or None."""
        return self._groups.get(pg_id)

    def _created(self, pg_id: bytes, chosen: list[bytes]) -> None:
        group = self._groups.get(pg_id)
        if group is None or group.state != gcs_pb2.PG_PENDING:
            if self._scheduler is not None:
                self._scheduler.discard(pg_id, chosen)  # type: ignore[attr-defined]
            return
        group.state = gcs_pb2.PG_CREATED
        del group.bundle_nodes[:]
        group.bundle_nodes.extend(chosen)
        log.info("placement group %s created on %s", pg_id.hex(), [n.hex()[:12] for n in chosen])
        self._changed[pg_id].notify()
        self._tasks.spawn(self._persist(pg_id), name="persist-pg")
        for listener in self.created_listeners:
            listener()

    def on_node_dead(self, node_id: bytes, reason: str) -> None:
        """Groups with a bundle on a dead node are released and placed again."""
        for pg_id, group in self._groups.items():
            if group.state == gcs_pb2.PG_CREATED and node_id in group.bundle_nodes:
                log.warning("placement group %s lost a bundle with node %s; placing it again",
                            pg_id.hex(), node_id.hex())
                nodes = list(group.bundle_nodes)
                group.state = gcs_pb2.PG_PENDING
                del group.bundle_nodes[:]
                self._changed[pg_id].notify()
                self._tasks.spawn(self._persist(pg_id), name="persist-pg")
                if self._scheduler is not None:
                    self._scheduler.discard(pg_id, nodes)  # type: ignore[attr-defined]
                    self._scheduler.add(group)  # type: ignore[attr-defined]

    def on_resources_changed(self) -> None:
        """A node joined or reported free resources: try pending groups again."""
        if self._scheduler is not None:
            self._scheduler.schedule()  # type: ignore[attr-defined]

    async def CreatePlacementGroup(
        self, request: gcs_pb2.CreatePlacementGroupRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.CreatePlacementGroupReply:
        """Record a group as PG_PENDING (a retried identical request is accepted)."""
        group = request.group
        check_id(group.placement_group_id, "group.placement_group_id", PLACEMENT_GROUP_ID_SIZE)
        check_id(group.job_id, "group.job_id", JOB_ID_SIZE, optional=True)
        if group.job_id and group.placement_group_id[-JOB_ID_SIZE:] != group.job_id:
            raise invalid_argument("group.placement_group_id must end with group.job_id")
        if not group.bundles:
            raise invalid_argument("group.bundles must not be empty")
        for i, bundle in enumerate(group.bundles):
            check_resources(bundle.amounts, f"group.bundles[{i}]")
            if not any(v > 0 for v in bundle.amounts.values()):
                raise invalid_argument(f"group.bundles[{i}] must ask for some resource")
        stored = gcs_pb2.PlacementGroupInfo()
        stored.CopyFrom(group)
        stored.state = gcs_pb2.PG_PENDING
        del stored.bundle_nodes[:]
        existing = self._groups.get(group.placement_group_id)
        if existing is not None:
            if (existing.strategy, list(existing.bundles), existing.name, existing.job_id) == (
                stored.strategy, list(stored.bundles), stored.name, stored.job_id
            ):
                return gcs_pb2.CreatePlacementGroupReply()
            raise already_exists(f"placement group {group.placement_group_id.hex()} already exists")
        self._groups[stored.placement_group_id] = stored
        self._changed[stored.placement_group_id] = Notifier()
        await self._persist(stored.placement_group_id)
        if self._scheduler is not None:
            self._scheduler.add(stored)  # type: ignore[attr-defined]
        return gcs_pb2.CreatePlacementGroupReply()

    async def RemovePlacementGroup(
        self, request: gcs_pb2.RemovePlacementGroupRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.RemovePlacementGroupReply:
        """Mark a group PG_REMOVED (idempotent) and wake its waiters."""
        check_id(request.placement_group_id, "placement_group_id", PLACEMENT_GROUP_ID_SIZE)
        if request.placement_group_id not in self._groups:
            raise not_found(f"placement group {request.placement_group_id.hex()} does not exist")
        self.remove(request.placement_group_id)
        return gcs_pb2.RemovePlacementGroupReply()

    async def GetPlacementGroup(
        self, request: gcs_pb2.GetPlacementGroupRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.GetPlacementGroupReply:
        """A group; with wait_until_created, once it leaves PG_PENDING or just
        before the caller's deadline (then still PG_PENDING)."""
        check_id(request.placement_group_id, "placement_group_id", PLACEMENT_GROUP_ID_SIZE)
        pg_id = request.placement_group_id
        if pg_id not in self._groups:
            raise not_found(f"placement group {pg_id.hex()} does not exist")
        if request.wait_until_created:
            await self._changed[pg_id].wait_while(
                lambda: self._groups[pg_id].state == gcs_pb2.PG_PENDING,
                wait_deadline(context.time_remaining()),
            )
        return gcs_pb2.GetPlacementGroupReply(group=self._groups[pg_id])

    async def ListPlacementGroups(
        self, request: gcs_pb2.ListPlacementGroupsRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.ListPlacementGroupsReply:
        """Every group (of one job), in id order, a page at a time."""
        check_id(request.job_id, "job_id", JOB_ID_SIZE, optional=True)
        check_id(request.page_token, "page_token", PLACEMENT_GROUP_ID_SIZE, optional=True)
        cap = STATE_MAX_PLACEMENT_GROUPS_PER_REPLY
        limit = cap if request.limit == 0 or request.limit > cap else request.limit
        ids = sorted(pg_id for pg_id, g in self._groups.items() if not request.job_id or g.job_id == request.job_id)
        start = bisect.bisect_right(ids, request.page_token) if request.page_token else 0
        page = ids[start:start + limit]
        reply = gcs_pb2.ListPlacementGroupsReply(groups=[self._groups[i] for i in page], total=len(ids))
        if start + limit < len(ids):
            reply.next_page_token = page[-1]
        return reply

    def remove(self, pg_id: bytes) -> None:
        """Mark a group removed (also used when its job finishes)."""
        group = self._groups.get(pg_id)
        if group is None or group.state == gcs_pb2.PG_REMOVED:
            return
        nodes = list(group.bundle_nodes)
        group.state = gcs_pb2.PG_REMOVED
        del group.bundle_nodes[:]
        if self._scheduler is not None:
            self._scheduler.discard(pg_id, nodes)  # type: ignore[attr-defined]
        self._changed[pg_id].notify()
        self._tasks.spawn(self._persist(pg_id), name="persist-pg")

    def on_job_finished(self, job_id: bytes) -> None:
        """A job's groups go with it."""
        for pg_id, group in list(self._groups.items()):
            if group.job_id == job_id:
                self.remove(pg_id)

    async def _persist(self, pg_id: bytes) -> None:
        async with self._write_lock:
            await self._storage.put(self.TABLE, pg_id, self._groups[pg_id].SerializeToString())


def bundle_node(group: gcs_pb2.PlacementGroupInfo | None,
                strategy: common_pb2.SchedulingStrategy) -> tuple[bytes, str]:
    """Where an actor in a placement group goes: (node id, "") once the group is
    created; (b"", "") while it is pending; (b"", why) when it never can."""
    pg = strategy.placement_group_id.hex()
    if group is None:
        return b"", f"its placement group {pg} does not exist"
    if group.state == gcs_pb2.PG_REMOVED:
        return b"", f"its placement group {pg} was removed"
    index = strategy.bundle_index
    if index >= len(group.bundles):
        return b"", f"bundle index {index} is out of range: placement group {pg} has {len(group.bundles)} bundle(s)"
    if group.state != gcs_pb2.PG_CREATED:
        return b"", ""
    return group.bundle_nodes[max(index, 0)], ""
