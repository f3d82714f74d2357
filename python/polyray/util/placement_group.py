"""Placement groups, as in Ray: reserve bundles of resources across nodes at once.

    pg = placement_group([{"CPU": 1}, {"CPU": 1}], strategy="STRICT_SPREAD")
    polyray.get(pg.ready())                 # True once every bundle is reserved
    f.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg, 0)).remote()
    remove_placement_group(pg)

A group is reserved whole or not at all; until then it is pending (``ready()``
does not resolve, ``wait()`` returns False) and it is placed as soon as the
cluster can hold it (a node joins or resources free up).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import grpc

from polyray.core.object_ref import ObjectRef, get_core
from polyray.protocol import common_pb2 as pb
from polyray.protocol import gcs_pb2 as gcs
from polyray.protocol.ids import JobID, PlacementGroupID

STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")
_RPC_TIMEOUT = 30.0
#: Each long poll of the GCS for a group's creation lasts at most this long.
_POLL_S = 20.0


def _core():
    core = get_core()
    if core is None:
        raise RuntimeError("polyray is not initialized: call polyray.init() first")
    return core


class PlacementGroup:
    """A handle to a placement group (``placement_group()`` returns one)."""

    def __init__(self, pg_id: PlacementGroupID, bundles: list[dict[str, float]], strategy: str,
                 name: str = "") -> None:
        self.id = pg_id
        self.bundle_specs = bundles
        self.strategy = strategy
        self.name = name

    @property
    def bundle_count(self) -> int:
        """How many bundles the group has."""
        return len(self.bundle_specs)

    def ready(self) -> ObjectRef:
        """An ObjectRef whose value is True once the group is created; getting it
        raises if the group is removed first."""
        core = _core()
        oid = core.next_put_id()
        core.references.add_owned(oid)
        ref = ObjectRef(oid, None)
        pg_id = self.id.binary()

        async def watch() -> None:
            while not core.shutting_down:
                try:
                    reply = await core.gcs.GetPlacementGroup(
                        gcs.GetPlacementGroupRequest(placement_group_id=pg_id, wait_until_created=True),
                        timeout=_POLL_S + _RPC_TIMEOUT)
                except grpc.aio.AioRpcError as e:
                    if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                        continue
                    _fail(core, oid, f"cannot learn the state of placement group {pg_id.hex()}: "
                                     f"{e.code().name} {e.details()}")
                    return
                state = reply.group.state
                if state == gcs.PG_CREATED:
                    core.memory_store.set(oid, envelope=core.encode(True, pb.PYTHON).to_proto(), size=1)
                    return
                if state == gcs.PG_REMOVED:
                    _fail(core, oid, f"placement group {pg_id.hex()} was removed before it was created")
                    return

        core.call_soon(lambda: asyncio.ensure_future(watch()))
        return ref

    def wait(self, timeout_seconds: float = 30) -> bool:
        """True once the group is created; False if ``timeout_seconds`` pass first."""
        state = self._state(wait_s=timeout_seconds)
        return state == gcs.PG_CREATED

    def _state(self, wait_s: float = 0.0) -> int:
        core = _core()
        deadline = time.monotonic() + wait_s
        while True:
            left = deadline - time.monotonic()
            try:
                wait = max(0.5, min(left, _POLL_S))
                request = gcs.GetPlacementGroupRequest(placement_group_id=self.id.binary(), wait_until_created=left > 0)
                reply = core.rpc(lambda req=request, wait=wait: core.gcs.GetPlacementGroup(req, timeout=wait),
                                 timeout=wait + 5)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise
                reply = None
            if reply is not None and (reply.group.state != gcs.PG_PENDING or left <= 0):
                return reply.group.state
            if time.monotonic() >= deadline:
                return gcs.PG_PENDING

    def __repr__(self) -> str:
        return f"PlacementGroup(id={self.id.hex()}, strategy={self.strategy}, bundles={self.bundle_specs})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlacementGroup) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


def _fail(core: Any, oid: bytes, message: str) -> None:
    from polyray.core import errors
    core.memory_store.set(oid, error=errors.system_record(pb.RUNTIME_ERROR, message))


def placement_group(bundles: Sequence[dict[str, float]], strategy: str = "PACK", name: str = "",
                    lifetime: str | None = None) -> PlacementGroup:
    """Ask the cluster to reserve ``bundles`` (resource dicts) with ``strategy``:
    PACK, SPREAD, STRICT_PACK or STRICT_SPREAD. Returns at once; use ``ready()``
    or ``wait()`` to know when the reservation is made."""
    if strategy not in STRATEGIES:
        raise ValueError(f"placement_group strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if not isinstance(bundles, (list, tuple)) or not bundles:
        raise ValueError("placement_group needs a non-empty list of bundles (dicts of resource -> amount)")
    clean: list[dict[str, float]] = []
    for i, b in enumerate(bundles):
        if not isinstance(b, dict) or not b:
            raise ValueError(f"bundle {i} must be a non-empty dict of resource -> amount, got {b!r}")
        for k, v in b.items():
            if not isinstance(k, str) or not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise ValueError(f"bundle {i}: resource {k!r} must be a non-negative number, got {v!r}")
        if not any(v > 0 for v in b.values()):
            raise ValueError(f"bundle {i} asks for no resource: {b!r}")
        clean.append({k: float(v) for k, v in b.items()})
    if lifetime not in (None, "detached"):
        raise ValueError(f"lifetime must be None or 'detached', got {lifetime!r}")
    core = _core()
    pg_id = PlacementGroupID.of(JobID.from_binary(core.job_id))
    info = gcs.PlacementGroupInfo(placement_group_id=pg_id.binary(),
                                  strategy=gcs.PlacementStrategy.Value(strategy), name=name,
                                  job_id=b"" if lifetime == "detached" else core.job_id)
    for b in clean:
        info.bundles.append(pb.ResourceMap(amounts=b))
    core.rpc(lambda: core.gcs.CreatePlacementGroup(gcs.CreatePlacementGroupRequest(group=info),
                                                   timeout=_RPC_TIMEOUT), timeout=_RPC_TIMEOUT + 5)
    return PlacementGroup(pg_id, clean, strategy, name)


def remove_placement_group(pg: PlacementGroup) -> None:
    """Release the group's reservation; tasks and actors running in it are stopped."""
    if not isinstance(pg, PlacementGroup):
        raise TypeError(f"remove_placement_group() takes a PlacementGroup, got {type(pg).__name__}")
    core = _core()
    core.rpc(lambda: core.gcs.RemovePlacementGroup(
        gcs.RemovePlacementGroupRequest(placement_group_id=pg.id.binary()), timeout=_RPC_TIMEOUT),
        timeout=_RPC_TIMEOUT + 5)


def placement_group_table(pg: PlacementGroup | None = None) -> dict[str, Any]:
    """The group's state and the node of each bundle (hex ids), as the GCS has them;
    with no group, every group's table by its hex id (as Ray's)."""
    core = _core()
    if pg is None:
        out: dict[str, Any] = {}
        req = gcs.ListPlacementGroupsRequest()
        while True:
            page = core.rpc(lambda: core.gcs.ListPlacementGroups(req, timeout=_RPC_TIMEOUT),
                            timeout=_RPC_TIMEOUT + 5)
            for g in page.groups:
                out[g.placement_group_id.hex()] = _table(g)
            if not page.next_page_token:
                return out
            req.page_token = page.next_page_token
    reply = core.rpc(lambda: core.gcs.GetPlacementGroup(
        gcs.GetPlacementGroupRequest(placement_group_id=pg.id.binary()), timeout=_RPC_TIMEOUT),
        timeout=_RPC_TIMEOUT + 5)
    return _table(reply.group)


def get_placement_group(placement_group_name: str) -> PlacementGroup:
    """The placement group created with this name (Ray's ``ray.util.get_placement_group``):
    the first one not removed, found through the GCS's paged ``ListPlacementGroups``.
    Names are cluster-wide here (Ray scopes them to the namespace). ValueError when
    no group that is not removed has the name."""
    if not isinstance(placement_group_name, str) or not placement_group_name:
        raise ValueError(f"get_placement_group() needs a non-empty name, got {placement_group_name!r}")
    core = _core()
    req = gcs.ListPlacementGroupsRequest()
    while True:
        page = core.rpc(lambda: core.gcs.ListPlacementGroups(req, timeout=_RPC_TIMEOUT), timeout=_RPC_TIMEOUT + 5)
        for g in page.groups:
            if g.name == placement_group_name and g.state != gcs.PG_REMOVED:
                return PlacementGroup(PlacementGroupID(g.placement_group_id),
                                      [dict(b.amounts) for b in g.bundles],
                                      gcs.PlacementStrategy.Name(g.strategy), g.name)
        if not page.next_page_token:
            raise ValueError(f"no placement group named {placement_group_name!r} (or it was removed)")
        req.page_token = page.next_page_token


def _table(g: gcs.PlacementGroupInfo) -> dict[str, Any]:
    return {
        "placement_group_id": g.placement_group_id.hex(),
        "name": g.name,
        "strategy": gcs.PlacementStrategy.Name(g.strategy),
        "state": {gcs.PG_PENDING: "PENDING", gcs.PG_CREATED: "CREATED", gcs.PG_REMOVED: "REMOVED"}[g.state],
        "bundles": {i: dict(b.amounts) for i, b in enumerate(g.bundles)},
        "bundles_to_node_id": {i: n.hex() for i, n in enumerate(g.bundle_nodes)},
    }
