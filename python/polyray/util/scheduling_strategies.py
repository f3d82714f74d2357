"""Scheduling strategies for tasks and actors, as in Ray.

Pass one as ``scheduling_strategy=`` in ``@polyray.remote`` or ``.options()``;
the strings ``"DEFAULT"`` and ``"SPREAD"`` work too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyray.protocol import common_pb2 as pb


@dataclass(frozen=True)
class NodeAffinitySchedulingStrategy:
    """Run on the node with this id (hex, as ``get_runtime_context().get_node_id()`` returns it).

    With ``soft=True`` the task may run elsewhere when that node is gone or full.
    """

    node_id: str
    soft: bool = False


@dataclass(frozen=True)
class PlacementGroupSchedulingStrategy:
    """Run inside a bundle of a placement group (index -1: any bundle).

    ``placement_group_capture_child_tasks=True``: tasks and actors that this
    task or actor starts without a scheduling strategy of their own run in
    the same group (any bundle), as Ray's."""

    placement_group: Any
    placement_group_bundle_index: int = -1
    placement_group_capture_child_tasks: bool = False


def check_fits_bundle(strategy: object | None, resources: dict[str, float], what: str) -> None:
    """Refuse at submission a request no bundle of its placement group can hold (as Ray does)."""
    if not isinstance(strategy, PlacementGroupSchedulingStrategy):
        return
    bundles = getattr(strategy.placement_group, "bundle_specs", None)
    if not bundles:
        return
    index = strategy.placement_group_bundle_index
    if index >= len(bundles) or index < -1:
        raise ValueError(f"{what}: bundle index {index} is out of range for a placement group of "
                         f"{len(bundles)} bundle(s)")
    candidates = bundles if index == -1 else [bundles[index]]
    if not any(all(b.get(k, 0.0) >= v for k, v in resources.items()) for b in candidates):
        where = "none of its bundles" if index == -1 else f"not bundle {index}"
        raise ValueError(f"{what} cannot be scheduled in its placement group: its resource request {resources} "
                         f"fits {where} ({candidates})")


def to_proto(strategy: object | None) -> pb.SchedulingStrategy:
    """The protocol form of a strategy; ValueError for anything else."""
    if strategy is None or strategy == "DEFAULT":
        return pb.SchedulingStrategy(kind=pb.SCHEDULING_DEFAULT)
    if strategy == "SPREAD":
        return pb.SchedulingStrategy(kind=pb.SCHEDULING_SPREAD)
    if isinstance(strategy, NodeAffinitySchedulingStrategy):
        try:
            node = bytes.fromhex(strategy.node_id)
        except (TypeError, ValueError):
            raise ValueError("NodeAffinitySchedulingStrategy.node_id must be a hex node id, "
                             f"got {strategy.node_id!r}") from None
        return pb.SchedulingStrategy(kind=pb.SCHEDULING_NODE_AFFINITY, node_id=node, soft=strategy.soft)
    if isinstance(strategy, PlacementGroupSchedulingStrategy):
        pg_id = getattr(strategy.placement_group, "id", None)
        raw = pg_id.binary() if hasattr(pg_id, "binary") else bytes(pg_id or b"")
        return pb.SchedulingStrategy(kind=pb.SCHEDULING_PLACEMENT_GROUP, placement_group_id=raw,
                                     bundle_index=strategy.placement_group_bundle_index,
                                     capture_child_tasks=bool(strategy.placement_group_capture_child_tasks))
    raise ValueError(f"unknown scheduling_strategy {strategy!r}: use 'DEFAULT', 'SPREAD', "
                     "NodeAffinitySchedulingStrategy or PlacementGroupSchedulingStrategy")


def strategy_for(strategy: object | None) -> pb.SchedulingStrategy:
    """The protocol form of a task's or actor's strategy; with none given, inside a task or
    actor whose placement group captures child tasks, that group (any bundle)."""
    if strategy is None:
        from polyray.core.worker_context import current_task
        ctx = current_task.get()
        spec = ctx.spec if ctx is not None else None
        if spec is None or spec.type == pb.ACTOR_TASK:  # an actor's method: the actor's own strategy
            from polyray.core.object_ref import get_core
            core = get_core()
            spec = getattr(getattr(core, "executor", None), "actor_creation_spec", None)
        parent = spec.scheduling if spec is not None else None
        if parent is not None and parent.kind == pb.SCHEDULING_PLACEMENT_GROUP and parent.capture_child_tasks:
            return pb.SchedulingStrategy(kind=pb.SCHEDULING_PLACEMENT_GROUP,
                                         placement_group_id=parent.placement_group_id, bundle_index=-1,
                                         capture_child_tasks=True)
    return to_proto(strategy)
