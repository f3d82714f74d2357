"""Fixtures of the multi-node tests: real node daemons on this machine.

``cluster3`` (module scope) is a head with 2 CPUs and two joining nodes (2
CPUs and resource ``b``; 1 CPU and resource ``c``), each with a 700 MB store,
and a driver connected to the head. Tests that kill or add nodes start their
own ``Cluster`` instead.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if importlib.util.find_spec("polyray") is None:
    sys.path.insert(0, os.path.abspath(os.path.join(_HERE, "..", "..", "python")))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from cluster_util import Cluster  # noqa: E402

import polyray  # noqa: E402


@pytest.fixture(scope="module")
def cluster3():
    """Head (2 CPU) + node B (2 CPU, b: 2) + node C (1 CPU, c: 1); a connected driver."""
    if polyray.is_initialized():
        polyray.shutdown()
    c = Cluster()
    try:
        c.start_head(num_cpus=2)
        c.add_node(num_cpus=2, resources={"b": 2})
        c.add_node(num_cpus=1, resources={"c": 1})
        c.wait_alive(3)
        polyray.init(address=c.address)
        yield c
    finally:
        gc.collect()
        polyray.shutdown()
        c.shutdown()


@pytest.fixture
def own_cluster():
    """A cluster the test builds itself (and may break); torn down afterwards."""
    if polyray.is_initialized():
        polyray.shutdown()
    c = Cluster()
    try:
        yield c
    finally:
        gc.collect()
        polyray.shutdown()
        c.shutdown()
