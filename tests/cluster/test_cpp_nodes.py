"""C++ workers and a C++ driver on a multi-node cluster: tasks and actors placed on
another node, large values pulled between the node stores by the C++ runtime,
spill-over of a C++ driver's tasks, and an object lost with its node.

The C++ code (tests/xlang/cpp_src/cluster_funcs.cc, cluster_driver.cc) is
compiled with ``polyray cpp-flags`` as tests/xlang/xlang_support.py does.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np
import pytest
from cluster_util import NODE_TIMEOUT_S, Cluster

import polyray
from polyray.exceptions import ObjectLostError
from polyray.protocol import auth, common_pb2, raylet_pb2, raylet_pb2_grpc
from polyray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

_XLANG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "xlang")
if _XLANG not in sys.path:
    sys.path.insert(0, _XLANG)

from xlang_support import CPP_SRC, build_cpp, results, run_checked  # noqa: E402

pytestmark = pytest.mark.timeout(1200)  # the first test may compile the C++ code
TIMEOUT = 90
#: 2 MB: far above the 100 KiB inline limit, so it travels through the stores.
N = 250_000


@pytest.fixture(scope="module")
def cluster_lib() -> str:
    """libcluster_funcs.so (the C++ callees)."""
    return build_cpp("cluster_funcs", [os.path.join(CPP_SRC, "cluster_funcs.cc")], "shared")


@pytest.fixture(scope="module")
def cluster_driver() -> str:
    """The cluster_driver program."""
    return build_cpp("cluster_driver", [os.path.join(CPP_SRC, "cluster_driver.cc")], "exe")


@pytest.fixture(scope="module")
def cpp_cluster(cluster_lib):
    """Head (1 CPU) + node B (2 CPUs, resource b); a Python driver on the head."""
    if polyray.is_initialized():
        polyray.shutdown()
    c = Cluster()
    try:
        c.start_head(num_cpus=1)
        c.add_node(num_cpus=2, resources={"b": 2})
        c.wait_alive(2)
        polyray.init(address=c.address, code_search_path=[cluster_lib])
        yield c
    finally:
        polyray.shutdown()
        c.shutdown()


def _raylet(node_id: str) -> str:
    return next(n["address"] for n in polyray.nodes() if n["NodeID"] == node_id)


def _cpp_pids_on(node_id: str) -> set[int]:
    with auth.channel(_raylet(node_id)) as ch:
        stats = raylet_pb2_grpc.RayletServiceStub(ch).GetNodeStats(raylet_pb2.GetNodeStatsRequest(), timeout=10)
    return {w.pid for w in stats.workers if w.language == common_pb2.CPP}


def _on(node_id: str) -> NodeAffinitySchedulingStrategy:
    return NodeAffinitySchedulingStrategy(node_id, soft=False)


def test_cpp_function_on_another_node_pulls_its_argument_and_its_result_comes_back(cpp_cluster):
    b = cpp_cluster.nodes[1].node_id
    data = np.arange(N, dtype=np.float64)
    ref = polyray.put(data)  # in the head's store, owned by this driver
    scale = polyray.cpp_function("ClusterScale").options(scheduling_strategy=_on(b))
    # The C++ worker on B pulls the argument from the head; the driver pulls the result from B.
    out = polyray.get(scale.remote(ref, 2.0), timeout=TIMEOUT)
    assert np.array_equal(out, data * 2.0)
    # A large argument passed by value goes through the head's store too.
    assert np.array_equal(polyray.get(scale.remote(data, 0.5), timeout=TIMEOUT), data * 0.5)
    pid = polyray.get(polyray.cpp_function("ClusterPid").options(scheduling_strategy=_on(b)).remote(),
                      timeout=TIMEOUT)
    assert pid in _cpp_pids_on(b)


def test_cpp_actor_on_another_node_pulls_arguments_and_returns_large_results(cpp_cluster):
    b = cpp_cluster.nodes[1].node_id
    Scaler = polyray.cpp_actor_class("Scaler::Create", "Scaler")
    scaler = Scaler.options(scheduling_strategy=_on(b)).remote(3.0)
    assert polyray.get(scaler.Pid.remote(), timeout=TIMEOUT) in _cpp_pids_on(b)
    data = np.linspace(0.0, 1.0, N)
    ref = polyray.put(data)
    outs = [scaler.Scale.remote(ref) for _ in range(3)]  # one pull serves the three calls
    for out in polyray.get(outs, timeout=TIMEOUT):
        assert np.allclose(out, data * 3.0)
    # A result made by a C++ task on B read by the C++ actor (on B: no pull) and by the driver (pulled).
    made = polyray.cpp_function("ClusterMake").options(scheduling_strategy=_on(b)).remote(N)
    assert np.array_equal(polyray.get(scaler.Scale.remote(made), timeout=TIMEOUT), np.arange(N) * 3.0)
    assert np.array_equal(polyray.get(made, timeout=TIMEOUT), np.arange(N, dtype=np.float64))
    polyray.kill(scaler)


def test_cpp_driver_spills_over_and_pulls_both_ways(cpp_cluster, cluster_lib, cluster_driver):
    b = cpp_cluster.nodes[1]
    env = dict(os.environ)
    env.pop("POLYRAY_ADDRESS", None)
    proc = run_checked([cluster_driver, cpp_cluster.address, b.store_name, cluster_lib], env=env, timeout=240)
    assert "DONE" in proc.stdout, proc.stdout
    r = results(proc.stdout)
    on_b = _cpp_pids_on(b.node_id)
    assert int(r["pid_b"]) in on_b  # resource "b": spilled from the head to B
    first, second = (int(p) for p in r["full_pids"].split(","))
    assert first != second and {first, second} & on_b, (r, on_b)  # the head was full: one went to B
    assert r["pulled_size"] == str(N) and int(r["pulled_sum"]) == N * (N - 1) // 2
    assert int(r["pushed_sum"]) == int(1.5 * N)
    assert r["copy_on_b"] == "true"  # the C++ worker on B pulled the driver's value there
    assert r["copy_on_b_after_drop"] == "false"  # and the C++ owner freed that copy too


def test_cpp_worker_reports_an_object_lost_with_its_node(own_cluster, cluster_lib):
    own_cluster.start_head(num_cpus=1)
    b = own_cluster.add_node(num_cpus=1, resources={"b": 1})
    c = own_cluster.add_node(num_cpus=1, resources={"c": 1})
    own_cluster.wait_alive(3)
    polyray.init(address=own_cluster.address, code_search_path=[cluster_lib])
    made = polyray.cpp_function("ClusterMake").options(scheduling_strategy=_on(c.node_id)).remote(N)
    polyray.wait([made], timeout=TIMEOUT, fetch_local=False)  # its only copy is in C's store
    c.kill(signal.SIGKILL)
    deadline = time.monotonic() + NODE_TIMEOUT_S * 5
    while any(n["NodeID"] == c.node_id and n["Alive"] for n in polyray.nodes()):
        assert time.monotonic() < deadline, "the GCS did not declare the killed node dead"
        time.sleep(0.2)
    total = polyray.cpp_function("ClusterSum").options(scheduling_strategy=_on(b.node_id)).remote(made)
    with pytest.raises(ObjectLostError) as info:
        polyray.get(total, timeout=TIMEOUT)
    assert c.node_id[:12] in str(info.value), str(info.value)
