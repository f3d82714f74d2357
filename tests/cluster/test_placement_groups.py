"""Placement groups across nodes: every strategy, atomic reservation, tasks and actors in bundles."""

from __future__ import annotations

import time

import pytest

import polyray
from polyray.util.placement_group import placement_group, placement_group_table, remove_placement_group
from polyray.util.scheduling_strategies import PlacementGroupSchedulingStrategy


@polyray.remote
def where() -> str:
    return polyray.get_runtime_context().get_node_id()


def _in(pg, index: int = -1) -> PlacementGroupSchedulingStrategy:
    return PlacementGroupSchedulingStrategy(pg, index)


def _wait_cpus(expected: float, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while polyray.available_resources().get("CPU", 0) != expected:
        assert time.monotonic() < deadline, f"available CPUs {polyray.available_resources()} != {expected}"
        time.sleep(0.1)


def test_strict_pack_puts_every_bundle_on_one_node(cluster3):
    pg = placement_group([{"CPU": 1}, {"CPU": 1}], strategy="STRICT_PACK")
    assert polyray.get(pg.ready(), timeout=30) is True
    nodes = placement_group_table(pg)["bundles_to_node_id"]
    assert len(set(nodes.values())) == 1
    assert {polyray.get(where.options(scheduling_strategy=_in(pg, i)).remote(), timeout=30) for i in (0, 1)} \
        == set(nodes.values())
    remove_placement_group(pg)
    _wait_cpus(5)


def test_strict_spread_puts_each_bundle_on_its_own_node_and_tasks_follow(cluster3):
    pg = placement_group([{"CPU": 1}] * 3, strategy="STRICT_SPREAD")
    assert pg.wait(30)
    nodes = placement_group_table(pg)["bundles_to_node_id"]
    assert set(nodes.values()) == {n.node_id for n in cluster3.nodes}
    for i in range(3):
        assert polyray.get(where.options(scheduling_strategy=_in(pg, i)).remote(), timeout=30) == nodes[i]
    # Any bundle (index -1): one of the group's nodes.
    assert polyray.get(where.options(scheduling_strategy=_in(pg)).remote(), timeout=30) in nodes.values()
    remove_placement_group(pg)
    _wait_cpus(5)


@pytest.mark.parametrize("strategy", ["PACK", "SPREAD"])
def test_pack_and_spread(cluster3, strategy):
    pg = placement_group([{"CPU": 1}, {"CPU": 1}, {"CPU": 1}], strategy=strategy)
    assert pg.wait(30)
    nodes = list(placement_group_table(pg)["bundles_to_node_id"].values())
    if strategy == "PACK":
        assert len(set(nodes)) == 2  # no node has 3 CPUs: as few nodes as possible
    else:
        assert len(set(nodes)) == 3
    remove_placement_group(pg)
    _wait_cpus(5)


def test_reservation_holds_resources_and_custom_bundles(cluster3):
    _, b, _ = (n.node_id for n in cluster3.nodes)
    pg = placement_group([{"CPU": 1, "b": 2}], strategy="PACK")
    assert pg.wait(30)
    assert placement_group_table(pg)["bundles_to_node_id"][0] == b
    _wait_cpus(4)
    assert polyray.available_resources().get("b", 0) == 0
    remove_placement_group(pg)
    _wait_cpus(5)


def test_actor_in_a_bundle_runs_there_and_dies_with_the_group(cluster3):
    pg = placement_group([{"CPU": 1}, {"CPU": 1}], strategy="STRICT_SPREAD")
    assert pg.wait(30)
    nodes = placement_group_table(pg)["bundles_to_node_id"]

    @polyray.remote(num_cpus=1)
    class Pinned:
        def node(self) -> str:
            return polyray.get_runtime_context().get_node_id()

    actor = Pinned.options(scheduling_strategy=_in(pg, 1)).remote()
    assert polyray.get(actor.node.remote(), timeout=60) == nodes[1]
    remove_placement_group(pg)
    with pytest.raises(polyray.exceptions.ActorDiedError):
        for _ in range(100):
            polyray.get(actor.node.remote(), timeout=10)
            time.sleep(0.1)


def test_strict_spread_waits_for_enough_nodes_then_places(own_cluster):
    own_cluster.start_head(num_cpus=1)
    own_cluster.add_node(num_cpus=1)
    own_cluster.wait_alive(2)
    polyray.init(address=own_cluster.address)
    pg = placement_group([{"CPU": 1}] * 3, strategy="STRICT_SPREAD")
    ready = pg.ready()
    assert not pg.wait(2)
    # All or nothing: no bundle is held while the group cannot be placed whole.
    assert polyray.available_resources()["CPU"] == 2
    assert polyray.wait([ready], timeout=0.5)[0] == []
    own_cluster.add_node(num_cpus=1)
    assert polyray.get(ready, timeout=30) is True
    assert len(set(placement_group_table(pg)["bundles_to_node_id"].values())) == 3
