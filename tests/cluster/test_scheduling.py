"""Scheduling across nodes: spill-over, SPREAD, node affinity, custom resources."""

from __future__ import annotations

import time

import pytest

import polyray
from polyray.util.scheduling_strategies import NodeAffinitySchedulingStrategy


@polyray.remote
def where(delay: float = 0.0) -> str:
    time.sleep(delay)
    return polyray.get_runtime_context().get_node_id()


def _ids(cluster3):
    head, b, c = cluster3.nodes
    return head.node_id, b.node_id, c.node_id


def test_nodes_and_cluster_resources_cover_every_node(cluster3):
    nodes = polyray.nodes()
    assert len(nodes) == 3 and all(n["Alive"] for n in nodes)
    assert {n["NodeID"] for n in nodes} == set(_ids(cluster3))
    for n in nodes:
        assert n["address"].count(":") == 1 and n["Resources"]["CPU"] >= 1
    total = polyray.cluster_resources()
    assert total["CPU"] == 5 and total["b"] == 2 and total["c"] == 1
    assert polyray.available_resources()["CPU"] <= 5


def test_task_runs_on_the_callers_node_when_it_fits(cluster3):
    head, _, _ = _ids(cluster3)
    assert polyray.get(where.remote()) == head


def test_tasks_spill_over_to_other_nodes_when_the_head_is_full(cluster3):
    head, b, c = _ids(cluster3)
    started = time.monotonic()
    got = polyray.get([where.remote(2.0) for _ in range(5)], timeout=60)
    assert set(got) == {head, b, c}, got
    # Five 1-CPU tasks on five CPUs of three nodes run at once.
    assert time.monotonic() - started < 8


def test_custom_resources_pick_the_node_that_has_them(cluster3):
    _, b, c = _ids(cluster3)
    assert polyray.get(where.options(resources={"c": 1}).remote()) == c
    assert set(polyray.get([where.options(resources={"b": 1}).remote(0.2) for _ in range(4)])) == {b}


def test_spread_uses_every_node(cluster3):
    got = polyray.get([where.options(scheduling_strategy="SPREAD").remote(3.0) for _ in range(3)], timeout=60)
    assert set(got) == set(_ids(cluster3)), got


def test_node_affinity_hard_and_soft(cluster3):
    head, b, c = _ids(cluster3)
    for node in (b, c, head):
        ref = where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote()
        assert polyray.get(ref) == node
    # Soft affinity to a node that does not exist falls back to any node.
    ghost = "ab" * 28
    assert polyray.get(where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(ghost, soft=True)).remote())
    # Hard affinity to it cannot be satisfied: a clear error naming the node.
    with pytest.raises(Exception, match=ghost):
        polyray.get(where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(ghost, soft=False)).remote(),
                    timeout=30)


def test_actor_with_node_affinity_and_custom_resources(cluster3):
    _, b, c = _ids(cluster3)

    @polyray.remote
    class Where:
        def node(self) -> str:
            return polyray.get_runtime_context().get_node_id()

    a = Where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(b, soft=False)).remote()
    assert polyray.get(a.node.remote(), timeout=60) == b
    z = Where.options(resources={"c": 1}).remote()
    assert polyray.get(z.node.remote(), timeout=60) == c
    polyray.kill(a)
    polyray.kill(z)


def test_infeasible_task_warns_the_driver_and_runs_when_a_node_that_fits_joins(own_cluster, capfd):
    own_cluster.start_head(num_cpus=1)
    own_cluster.wait_alive(1)
    polyray.init(address=own_cluster.address)
    ref = where.options(num_gpus=1, resources={"accel": 2}).remote()
    deadline = time.monotonic() + 20
    err = ""
    while "cannot be scheduled" not in err:
        assert time.monotonic() < deadline, f"no infeasible warning on the driver's stderr: {err!r}"
        time.sleep(0.2)
        err += capfd.readouterr().err
    assert "GPU: 1" in err and "accel: 2" in err, err
    assert polyray.wait([ref], timeout=1)[0] == []
    gpu = own_cluster.add_node(num_cpus=1, num_gpus=1, resources={"accel": 2})
    assert polyray.get(ref, timeout=30) == gpu.node_id
