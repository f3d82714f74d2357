"""Fixtures of the core-runtime integration tests (real head, real workers, real store).

``cluster`` starts one embedded head (``polyray.init(num_cpus=2)``) per test
module that asks for it and shuts it down at the end of that module. Modules
that test the lifecycle of a cluster themselves do not use it: pytest tears a
module-scoped fixture down before the next module starts, so no shared cluster
is up in this process while they run (``no_cluster`` checks that).
"""

from __future__ import annotations

import gc
import importlib.util
import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
_PYTHON_DIR = os.path.join(_HERE, "..", "..", "python")
if importlib.util.find_spec("polyray") is None:  # a checkout that is not pip-installed
    sys.path.insert(0, os.path.abspath(_PYTHON_DIR))
if _HERE not in sys.path:  # core_util, for the test modules (and the workers that import them)
    sys.path.insert(0, _HERE)

import polyray  # noqa: E402

NUM_CPUS = 2


@pytest.fixture(scope="module")
def cluster():
    """One embedded local cluster with 2 CPUs for every test of a module."""
    if polyray.is_initialized():  # a previous module's cluster left behind: never share across modules
        polyray.shutdown()
    info = polyray.init(num_cpus=NUM_CPUS)
    try:
        yield info
    finally:
        gc.collect()
        polyray.shutdown()


@pytest.fixture
def no_cluster():
    """Asserts no cluster is connected in this process, and cleans up after the test."""
    assert not polyray.is_initialized(), "a shared cluster is still up in this process"
    yield
    if polyray.is_initialized():
        polyray.shutdown()
