"""Chaos tests: real clusters whose processes are SIGKILLed or fed bad input.

Every test here starts real processes (daemons, drivers, workers) and is in the
``cluster`` lane (tests/conftest.py). Helpers come from tests/core/core_util.py
and chaos_util.py.
"""

from __future__ import annotations

import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
# core_util (tests/core), Cluster (tests/cluster), build_cpp (tests/xlang).
for _folder in ("core", "cluster", "xlang"):
    _path = os.path.abspath(os.path.join(_HERE, "..", _folder))
    if _path not in sys.path:
        sys.path.insert(0, _path)

from cluster_util import Cluster  # noqa: E402


@pytest.fixture
def two_nodes():
    """A head (2 CPUs) and node B (2 CPUs, custom resource ``b``): ``(cluster, B)``."""
    c = Cluster()
    try:
        c.start_head(num_cpus=2)
        b = c.add_node(num_cpus=2, resources={"b": 2})
        c.wait_alive(2)
        yield c, b
    finally:
        c.shutdown()
