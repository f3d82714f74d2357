"""Choosing a node for every bundle of a placement group (pure functions).

Strategies, as in Ray:

* STRICT_PACK: every bundle on one node.
* PACK: one node if possible, else as few as possible (each bundle goes to
  a node already used when it fits there).
* STRICT_SPREAD: every bundle on a different node.
* SPREAD: different nodes where possible, shared ones otherwise.

The plan works on a copy of the nodes' free resources (the GCS's view,
refreshed by heartbeats); raylets confirm it when the bundles are prepared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from polyray.protocol import gcs_pb2

from .node_table import fits

Amounts = Mapping[str, float]


def _take(free: dict[str, float], demand: Amounts) -> None:
    for k, v in demand.items():
        free[k] = free.get(k, 0.0) - v


def _sum(bundles: Sequence[Amounts]) -> dict[str, float]:
    total: dict[str, float] = {}
    for b in bundles:
        for k, v in b.items():
            total[k] = total.get(k, 0.0) + v
    return total


def plan(
    strategy: int, bundles: Sequence[Amounts], nodes: Sequence[tuple[bytes, Amounts]]
) -> list[bytes] | None:
    """The node of each bundle, or None when the strategy cannot be met now.

    ``nodes`` are (node id, free resources) of the alive nodes, in preference order.
    """
    free = {node_id: dict(avail) for node_id, avail in nodes}
    order = [node_id for node_id, _ in nodes]
    if strategy in (gcs_pb2.STRICT_PACK, gcs_pb2.PACK):
        total = _sum(bundles)
        for node_id in order:
            if fits(free[node_id], total):
                return [node_id] * len(bundles)
        if strategy == gcs_pb2.STRICT_PACK:
            return None
        return _greedy(bundles, free, order, prefer_used=True, distinct=False)
    if strategy == gcs_pb2.STRICT_SPREAD:
        if len(bundles) > len(order):
            return None
        return _greedy(bundles, free, order, prefer_used=False, distinct=True)
    return (_greedy(bundles, {k: dict(v) for k, v in free.items()}, order, prefer_used=False, distinct=True)
            or _greedy(bundles, free, order, prefer_used=False, distinct=False))


def _greedy(bundles: Sequence[Amounts], free: dict[bytes, dict[str, float]], order: list[bytes], *,
            prefer_used: bool, distinct: bool) -> list[bytes] | None:
    """Place the largest bundles first; PACK prefers nodes already used, SPREAD
    the least used ones."""
    placed: list[bytes | None] = [None] * len(bundles)
    used: dict[bytes, int] = {}
    by_size = sorted(range(len(bundles)), key=lambda i: -sum(bundles[i].values()))
    for i in by_size:
        candidates = [n for n in order if fits(free[n], bundles[i]) and not (distinct and n in used)]
        if not candidates:
            return None
        if prefer_used:
            candidates.sort(key=lambda n: (n not in used,))
        else:
            candidates.sort(key=lambda n: used.get(n, 0))
        node_id = candidates[0]
        placed[i] = node_id
        used[node_id] = used.get(node_id, 0) + 1
        _take(free[node_id], bundles[i])
    return [p for p in placed if p is not None]


def describe_shortfall(strategy: int, bundles: Sequence[Amounts], nodes: Sequence[tuple[bytes, Amounts]]) -> str:
    """Why a group waits, for logs."""
    name = gcs_pb2.PlacementStrategy.Name(strategy)  # type: ignore[arg-type]
    return (f"{name} of {len(bundles)} bundle(s) {list(map(dict, bundles))} does not fit the "
            f"{len(nodes)} alive node(s) now")
