"""Fixtures of the scale tests (issue 14): one real local cluster per module.

Each module that asks for ``cluster`` gets ``polyray.init(num_cpus=2)`` (an
embedded head, real worker processes) and a shutdown at its end.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if importlib.util.find_spec("polyray") is None:  # a checkout that is not pip-installed
    sys.path.insert(0, os.path.abspath(os.path.join(_HERE, "..", "..", "python")))

import polyray  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """One embedded local cluster with 2 CPUs for every test of a module."""
    if polyray.is_initialized():
        polyray.shutdown()
    info = polyray.init(num_cpus=2)
    try:
        yield info
    finally:
        gc.collect()
        polyray.shutdown()
