"""Cross-language calls whose worker runs on another node: Python driver -> Java workers."""

from __future__ import annotations

import os

import java_support
import numpy as np
import pytest
from cluster_util import Cluster

import polyray
import polyray.sdk
from polyray.protocol import auth, common_pb2, raylet_pb2, raylet_pb2_grpc
from polyray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

JAVA_SRC = os.path.join(os.path.dirname(__file__), "..", "xlang", "java_src")
TIMEOUT = 90


@pytest.fixture(scope="module")
def java_cluster(tmp_path_factory):
    out = java_support.compiled_java("xlang_java", JAVA_SRC)
    if polyray.is_initialized():
        polyray.shutdown()
    c = Cluster()
    try:
        c.start_head(num_cpus=1)
        c.add_node(num_cpus=2)
        c.wait_alive(2)
        polyray.init(address=c.address, code_search_path=[out])
        yield c
    finally:
        polyray.shutdown()
        c.shutdown()


def _java_pids_on(address: str) -> set[int]:
    with auth.channel(address) as ch:
        stats = raylet_pb2_grpc.RayletServiceStub(ch).GetNodeStats(raylet_pb2.GetNodeStatsRequest(), timeout=10)
    return {w.pid for w in stats.workers if w.language == common_pb2.JAVA}


def test_java_task_and_actor_on_a_non_head_node(java_cluster):
    b = java_cluster.nodes[1]
    b_address = next(n["address"] for n in polyray.nodes() if n["NodeID"] == b.node_id)
    on_b = NodeAffinitySchedulingStrategy(b.node_id, soft=False)
    add = polyray.java_function("xlangtest.Calc", "add").options(scheduling_strategy=on_b)
    assert polyray.get(add.remote(2, 40), timeout=TIMEOUT) == 42
    counter = polyray.java_actor_class("xlangtest.Counter").options(scheduling_strategy=on_b).remote(10)
    assert polyray.get(counter.increment.remote(5), timeout=TIMEOUT) == 15
    pid = polyray.get(counter.pid.remote(), timeout=TIMEOUT)
    assert pid in _java_pids_on(b_address)
    polyray.kill(counter)


def test_large_java_result_made_on_another_node_is_pulled(java_cluster):
    b = java_cluster.nodes[1]
    on_b = NodeAffinitySchedulingStrategy(b.node_id, soft=False)
    scale = polyray.java_function("xlangtest.Calc", "scale").options(scheduling_strategy=on_b)
    data = np.arange(1_000_000, dtype=np.float64)  # 8 MB each way: through both stores
    out = polyray.get(scale.remote(data, 2.0), timeout=TIMEOUT)
    assert np.array_equal(out, data * 2.0)
