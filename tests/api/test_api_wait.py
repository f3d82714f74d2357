"""wait(): ``wait([])`` is ``([], [])``; ``fetch_local`` decides whether remote values are copied first."""

from __future__ import annotations

import gc
import os
import sys
import time

import pytest

import polyray
from polyray.core.object_ref import get_core
from polyray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster"))
from cluster_util import Cluster  # noqa: E402

MB = 1024 * 1024


@pytest.fixture(scope="module")
def two_nodes():
    """A head (the driver's node) and a second node with resource ``far``."""
    if polyray.is_initialized():
        polyray.shutdown()
    c = Cluster()
    try:
        c.start_head(num_cpus=1)
        c.add_node(num_cpus=1, resources={"far": 1})
        c.wait_alive(2)
        polyray.init(address=c.address)
        yield c
    finally:
        gc.collect()
        polyray.shutdown()
        c.shutdown()


@polyray.remote
def make(n):
    return b"z" * n


def _in_local_store(ref) -> bool:
    return get_core().getter._node_store.store.contains(ref.binary())


def test_wait_of_no_refs(two_nodes):
    assert polyray.wait([]) == ([], [])
    assert polyray.wait([], timeout=0) == ([], [])


def test_wait_fetch_local_pulls_remote_values_first(two_nodes):
    far = two_nodes.nodes[1].node_id
    on_far = NodeAffinitySchedulingStrategy(far, soft=False)
    a = make.options(scheduling_strategy=on_far).remote(8 * MB)
    # fetch_local=False: ready once it exists on the other node, not copied here.
    ready, rest = polyray.wait([a], fetch_local=False, timeout=60)
    assert ready == [a] and rest == []
    time.sleep(0.5)
    assert not _in_local_store(a), "fetch_local=False copied the value"
    # fetch_local=True: reported ready only once it is in this node's store.
    ready, rest = polyray.wait([a], fetch_local=True, timeout=60)
    assert ready == [a] and _in_local_store(a)
    b = make.options(scheduling_strategy=on_far).remote(8 * MB)
    ready, _ = polyray.wait([b], timeout=60)  # the default is fetch_local=True
    assert ready == [b] and _in_local_store(b)
    assert polyray.get(b, timeout=60) == b"z" * (8 * MB)
