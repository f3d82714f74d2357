"""A depth-6 tree of C++ tasks that block in Get (issue 14 Deliver 5): C++
workers report blocking as Python ones do, so the raylet's rules (lent CPU to
the most recently blocked caller's children, no surplus workers) hold for
them too. Driver in Python; every task runs in a C++ worker."""

from __future__ import annotations

import os
import sys
import time

import pytest

import polyray
from polyray import api
from polyray.protocol import raylet_pb2 as rl

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "xlang"))
from xlang_support import build_cpp  # noqa: E402

pytestmark = pytest.mark.timeout(600)  # the first run compiles the library
DEPTH = 6
MAX_WORKERS = 24


@pytest.fixture(scope="module")
def cpp_cluster():
    lib = build_cpp("scale_funcs", [os.path.join(HERE, "cpp_src", "scale_funcs.cc")], "shared")
    if polyray.is_initialized():
        polyray.shutdown()
    polyray.init(num_cpus=2, code_search_path=[os.path.dirname(lib)])
    yield
    polyray.shutdown()


def _worker_ids() -> set[bytes]:
    core = api._core()
    reply = core.rpc(lambda: core.connections.raylet.GetNodeStats(rl.GetNodeStatsRequest(), timeout=10))
    return {w.worker_id for w in reply.workers}


def test_a_depth_6_tree_of_cpp_tasks_blocking_in_get_starts_few_workers(cpp_cluster):
    before = _worker_ids()
    started = time.monotonic()
    total = polyray.get(polyray.cpp_function("ScaleTree").remote(DEPTH), timeout=120)
    took = time.monotonic() - started
    new = _worker_ids() - before
    print(f"C++ depth {DEPTH}: {total} tasks in {took:.1f} s on {len(new)} new workers")
    assert total == 2 ** (DEPTH + 1) - 1
    assert len(new) <= MAX_WORKERS, f"{len(new)} workers started for a depth-{DEPTH} C++ tree"
