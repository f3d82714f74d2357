"""Placement groups: stored and answered. They stay PG_PENDING until a scheduler
reserves their bundles (a later change); nothing here pretends they are created."""

from __future__ import annotations

import asyncio

import grpc

from polyray.protocol import gcs_pb2

from .background import BackgroundTasks
from .errors import already_exists, invalid_argument, not_found
from .storage import Storage
from .validation import JOB_ID_SIZE, PLACEMENT_GROUP_ID_SIZE, check_id, check_resources
from .waiting import Notifier, wait_deadline


class PlacementGroups:
    """CreatePlacementGroup / RemovePlacementGroup / GetPlacementGroup."""

    TABLE = "placement_groups"

    def __init__(self, storage: Storage) -> None:
        """Create an empty table over ``storage``."""
        self._storage = storage
        self._groups: dict[bytes, gcs_pb2.PlacementGroupInfo] = {}
        self._changed: dict[bytes, Notifier] = {}
        self._write_lock = asyncio.Lock()
        self._tasks = BackgroundTasks()

    async def load(self) -> None:
        """Read groups back from storage."""
        for key, value in (await self._storage.get_all(self.TABLE)).items():
            self._groups[key] = gcs_pb2.PlacementGroupInfo.FromString(value)
            self._changed[key] = Notifier()

    async def stop(self) -> None:
        """Cancel pending writes."""
        await self._tasks.cancel_all()

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

    def remove(self, pg_id: bytes) -> None:
        """Mark a group removed (also used when its job finishes)."""
        group = self._groups.get(pg_id)
        if group is None or group.state == gcs_pb2.PG_REMOVED:
            return
        group.state = gcs_pb2.PG_REMOVED
        del group.bundle_nodes[:]
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
