"""Nodes that die (SIGKILL) or leave (SIGTERM): retries, NodeDiedError, ObjectLostError, never a hang."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest
from cluster_util import NODE_TIMEOUT_S

import polyray
from polyray.exceptions import ActorDiedError, NodeDiedError, ObjectLostError
from polyray.util.scheduling_strategies import NodeAffinitySchedulingStrategy


@polyray.remote
def slow(seconds: float) -> str:
    time.sleep(seconds)
    return polyray.get_runtime_context().get_node_id()


@polyray.remote
def big() -> np.ndarray:
    return np.ones(2 * 1024 * 1024, dtype=np.uint8)


def _alive(node_id: str) -> bool:
    return next(n["Alive"] for n in polyray.nodes() if n["NodeID"] == node_id)


def _wait_dead(node_id: str, timeout: float) -> float:
    started = time.monotonic()
    while _alive(node_id):
        assert time.monotonic() - started < timeout, f"node {node_id} not declared dead within {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - started


def test_sigkill_mid_work_retries_tasks_elsewhere_and_fails_what_only_it_held(own_cluster):
    head = own_cluster.start_head(num_cpus=2)
    b = own_cluster.add_node(num_cpus=4)
    own_cluster.wait_alive(2)
    polyray.init(address=own_cluster.address)
    hard_b = NodeAffinitySchedulingStrategy(b.node_id, soft=False)
    # Work that is running on B when it dies:
    retried = [slow.remote(4.0) for _ in range(4)]  # two run on B, and are retried on the head
    pinned = slow.options(scheduling_strategy=hard_b, max_retries=0).remote(30.0)    # nowhere else to go
    held = big.options(scheduling_strategy=hard_b).remote()                          # only copy on B
    polyray.wait([held], timeout=30, fetch_local=False)  # its only copy stays on B
    time.sleep(1.0)
    started = time.monotonic()
    b.kill(signal.SIGKILL)
    with pytest.raises(NodeDiedError, match=b.node_id):
        polyray.get(pinned, timeout=30)
    assert time.monotonic() - started < 10
    with pytest.raises(ObjectLostError):
        polyray.get(held, timeout=30)
    assert set(polyray.get(retried, timeout=60)) == {head.node_id}
    took = _wait_dead(b.node_id, NODE_TIMEOUT_S + 5)
    assert took < NODE_TIMEOUT_S + 5
    # New work keeps flowing on the survivors.
    assert polyray.get(slow.remote(0.0), timeout=30) == head.node_id


def test_actor_on_a_dead_node_restarts_elsewhere_or_dies(own_cluster):
    own_cluster.start_head(num_cpus=1)
    b = own_cluster.add_node(num_cpus=1, resources={"b": 1})
    own_cluster.wait_alive(2)
    polyray.init(address=own_cluster.address)

    @polyray.remote
    class Where:
        def node(self) -> str:
            return polyray.get_runtime_context().get_node_id()

    soft_b = NodeAffinitySchedulingStrategy(b.node_id, soft=True)
    phoenix = Where.options(scheduling_strategy=soft_b, max_restarts=1, max_task_retries=2).remote()
    mortal = Where.options(resources={"b": 1}).remote()
    assert polyray.get([phoenix.node.remote(), mortal.node.remote()], timeout=60) == [b.node_id, b.node_id]
    b.kill(signal.SIGKILL)
    # Its workers notice their raylet is gone and exit; calls then fail (never hang).
    with pytest.raises(ActorDiedError):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            polyray.get(mortal.node.remote(), timeout=30)
            time.sleep(0.2)
    deadline = time.monotonic() + 30
    while True:
        try:
            got = polyray.get(phoenix.node.remote(), timeout=30)
            break
        except ActorDiedError:
            assert time.monotonic() < deadline, "the actor was not restarted on the surviving node"
            time.sleep(0.2)
    assert got != b.node_id


def test_sigterm_leaves_the_cluster_cleanly(own_cluster):
    own_cluster.start_head(num_cpus=1)
    b = own_cluster.add_node(num_cpus=1)
    own_cluster.wait_alive(2)
    polyray.init(address=own_cluster.address)
    assert polyray.cluster_resources()["CPU"] == 2
    b.stop()
    assert b.process.returncode == 0, b.log()[-2000:]
    reason = next(n for n in polyray.nodes() if n["NodeID"] == b.node_id)
    assert not reason["Alive"]
    assert polyray.cluster_resources()["CPU"] == 1
