"""Where a lease request runs: here, on another node (spill-over), or nowhere yet.

The raylet that first receives a request (``grant_or_reject`` not set)
decides with its view of the cluster (``ClusterView``):

* DEFAULT: here when the resources are free here now; else on the other
  node with the largest free CPU share where they are free now; else here,
  queued, when this node could ever hold them; else on another node that
  could; else the request is *infeasible* and waits for a node that fits.
* SPREAD: round-robin over the nodes (this one included) that could ever
  hold the request; the caller takes one lease per SPREAD task.
* NODE_AFFINITY: the named node (here, or spilled there). When that node is
  dead or unknown, or (soft) it has no room now, soft falls back to DEFAULT
  and hard fails with TaskUnschedulableError.
* PLACEMENT_GROUP is decided by the lease manager with the group's bundles
  (see ``LeaseManager._placement_group_pool``).

Label selectors (``strategy.label_selector``, then each of
``strategy.fallback`` in order) narrow DEFAULT and SPREAD to the nodes whose
labels match the first selector that some node able to ever hold the request
matches; when none does, the request is infeasible and waits (as in Ray) for
a node that matches. NODE_AFFINITY ignores them (it names its node).

A request spilled to another raylet carries ``grant_or_reject``: that raylet
queues it (or fails it when it can never fit) and never spills it again.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from polyray.protocol import common_pb2, labels
from polyray.raylet.cluster_view import ClusterView, RemoteNode, fits
from polyray.raylet.resources import NodeResources, ResourceSet


class Where(enum.Enum):
    """The kinds of decision."""

    LOCAL = "local"
    SPILL = "spill"
    INFEASIBLE = "infeasible"
    FAIL = "fail"


@dataclass
class Decision:
    """A decision: for SPILL the node, for FAIL the message."""

    where: Where
    node: RemoteNode | None = None
    message: str = ""
    #: The other nodes the request may go to (its label selector); None: any.
    allow: Callable[[RemoteNode], bool] | None = None


def decide(
    spec: common_pb2.TaskSpec,
    demand: ResourceSet,
    local: NodeResources,
    local_id: bytes,
    view: ClusterView,
    local_labels: Mapping[str, str] | None = None,
) -> Decision:
    """Decide where a request that may spill runs (module docstring)."""
    amounts = demand.to_dict()
    strategy = spec.scheduling
    kind = strategy.kind
    if kind == common_pb2.SCHEDULING_NODE_AFFINITY:
        decision = _affinity(strategy, demand, amounts, local, local_id, view)
        if decision is not None:
            return decision
        kind = common_pb2.SCHEDULING_DEFAULT
    here, allow = True, None
    selectors = labels.chain(strategy)
    if selectors and strategy.kind != common_pb2.SCHEDULING_NODE_AFFINITY:
        mine = dict(local_labels or {})
        nodes = [(mine, local.can_ever_fit(demand))]
        nodes += [(n.labels, fits(n.total, amounts)) for n in view.others()]
        chosen = labels.first_matching(selectors, nodes)
        if chosen is None:
            return Decision(Where.INFEASIBLE, message=(
                f"no node that could hold {demand} has labels matching its label_selector "
                f"{selectors[0]}" + (f" or its fallback_strategy {selectors[1:]}" if len(selectors) > 1 else "")))
        here = labels.matches(chosen, mine)

        def allow(node: RemoteNode, chosen: Mapping[str, str] = chosen) -> bool:
            return labels.matches(chosen, node.labels)
    if kind == common_pb2.SCHEDULING_SPREAD:
        decision = _spread(demand, amounts, local, view, here, allow)
    else:
        decision = _default(demand, amounts, local, view, here, allow)
    decision.allow = allow
    return decision


def _default(demand: ResourceSet, amounts: Mapping[str, float], local: NodeResources,
             view: ClusterView, here: bool = True,
             allow: Callable[[RemoteNode], bool] | None = None) -> Decision:
    if here and local.fits(demand):
        return Decision(Where.LOCAL)
    node = view.best_available(amounts, allow)
    if node is not None:
        return Decision(Where.SPILL, node)
    if here and local.can_ever_fit(demand):
        return Decision(Where.LOCAL)
    node = view.any_feasible(amounts, allow)
    if node is not None:
        return Decision(Where.SPILL, node)
    return Decision(Where.INFEASIBLE)


def _spread(demand: ResourceSet, amounts: Mapping[str, float], local: NodeResources,
            view: ClusterView, here: bool = True,
            allow: Callable[[RemoteNode], bool] | None = None) -> Decision:
    # Round-robin over a stable list: every node that could ever hold the
    # request, one further each call. Free resources are not consulted: other
    # nodes' are up to a heartbeat old, and a busy node queues the request.
    candidates: list[RemoteNode | None] = [None] if here and local.can_ever_fit(demand) else []
    candidates += [n for n in view.others() if fits(n.total, amounts) and (allow is None or allow(n))]
    if not candidates:
        return Decision(Where.INFEASIBLE)
    pick = candidates[view.next_spread(len(candidates))]
    return Decision(Where.LOCAL) if pick is None else Decision(Where.SPILL, pick)


def _affinity(strategy: common_pb2.SchedulingStrategy, demand: ResourceSet,
              amounts: Mapping[str, float], local: NodeResources, local_id: bytes,
              view: ClusterView) -> Decision | None:
    """The decision for NODE_AFFINITY, or None to fall back to DEFAULT (soft)."""
    target = strategy.node_id
    if target == local_id:
        if local.can_ever_fit(demand) and (not strategy.soft or local.fits(demand)):
            return Decision(Where.LOCAL)
        if not strategy.soft:
            return Decision(Where.FAIL, message=(
                f"NodeAffinitySchedulingStrategy names node {target.hex()}, whose resources "
                f"{local.total} can never hold {demand}"))
        return None
    node = view.get(target)
    if node is not None:
        if not strategy.soft:
            if not fits(node.total, amounts):
                return Decision(Where.FAIL, message=(
                    f"NodeAffinitySchedulingStrategy names node {target.hex()}, whose resources "
                    f"{ResourceSet(node.total)} can never hold {demand}"))
            return Decision(Where.SPILL, node)
        if fits(node.available, amounts):
            return Decision(Where.SPILL, node)
        return None
    if strategy.soft:
        return None
    state = "dead" if view.is_dead(target) else "not a node of this cluster"
    return Decision(Where.FAIL, message=(
        f"NodeAffinitySchedulingStrategy(soft=False) names node {target.hex()}, which is {state}"))
