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
    """Run inside a bundle of a placement group (index -1: any bundle)."""

    placement_group: Any
    placement_group_bundle_index: int = -1


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
                                     bundle_index=strategy.placement_group_bundle_index)
    raise ValueError(f"unknown scheduling_strategy {strategy!r}: use 'DEFAULT', 'SPREAD', "
                     "NodeAffinitySchedulingStrategy or PlacementGroupSchedulingStrategy")
