"""A depth-5 tree of Java tasks that block in get (issue 14 Deliver 5): Java
workers report blocking as Python ones do, so the raylet's rules (lent CPU to
the most recently blocked caller's children, no surplus workers) hold for
them too. Driver in Python; every task runs in a Java worker."""

from __future__ import annotations

import os
import time

import java_support
import pytest

import polyray
from polyray import api
from polyray.protocol import raylet_pb2 as rl

HERE = os.path.dirname(os.path.abspath(__file__))
DEPTH = 5  # JVMs start in 1-3 s each here: depth 6 took 25 s (15 workers)
MAX_WORKERS = 20


@pytest.fixture(scope="module")
def java_cluster(tmp_path_factory):
    yield from java_support.java_cluster(tmp_path_factory, os.path.join(HERE, "java_src"), "scale_java_tree")


def _worker_ids() -> set[bytes]:
    core = api._core()
    reply = core.rpc(lambda: core.connections.raylet.GetNodeStats(rl.GetNodeStatsRequest(), timeout=10))
    return {w.worker_id for w in reply.workers}


def test_a_depth_5_tree_of_java_tasks_blocking_in_get_starts_few_workers(java_cluster):
    before = _worker_ids()
    started = time.monotonic()
    total = polyray.get(polyray.java_function("scaletest.Trees", "tree").remote(DEPTH), timeout=180)
    took = time.monotonic() - started
    new = _worker_ids() - before
    print(f"Java depth {DEPTH}: {total} tasks in {took:.1f} s on {len(new)} new workers")
    assert total == 2 ** (DEPTH + 1) - 1
    assert len(new) <= MAX_WORKERS, f"{len(new)} workers started for a depth-{DEPTH} Java tree"
