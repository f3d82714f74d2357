"""A job's working_dir on a second node, for Python, Java and C++ workers alike.

Head (1 CPU) and node B (2 CPUs, resource ``b``) are separate daemons with
their own session folders; the working_dir is a temporary folder that holds a
Python module, a jar (javac + zip at test time) and a shared library (built
with ``polyray cpp-flags``), none of which any worker could find otherwise.
Every task is pinned to node B, so the package travels through the GCS.
"""

from __future__ import annotations

import os
import sys

import pytest

import polyray

_HERE = os.path.dirname(os.path.abspath(__file__))
for extra in (os.path.join(_HERE, "..", "cluster"), _HERE):
    if extra not in sys.path:
        sys.path.insert(0, extra)

from cluster_util import Cluster  # noqa: E402
from rtenv_support import fill_working_dir, in_package_cache  # noqa: E402

pytestmark = pytest.mark.timeout(900)  # the first run may compile the C++ library
TIMEOUT = 90


@pytest.fixture(scope="module")
def working_dir(tmp_path_factory) -> str:
    return fill_working_dir(str(tmp_path_factory.mktemp("rtenv_wd")))


@pytest.fixture(scope="module")
def two_nodes(working_dir):
    if polyray.is_initialized():
        polyray.shutdown()
    c = Cluster()
    try:
        c.start_head(num_cpus=1)
        c.add_node(num_cpus=2, resources={"b": 2})
        c.wait_alive(2)
        polyray.init(address=c.address, runtime_env={"working_dir": working_dir, "env_vars": {"RTENV_VAR": "v1"}})
        yield c
    finally:
        polyray.shutdown()
        c.shutdown()


@polyray.remote(resources={"b": 1})
def python_where() -> tuple:
    import rtenv_mod
    return rtenv_mod.where()


def test_python_module_from_working_dir_on_another_node(two_nodes) -> None:
    cwd, var = polyray.get(python_where.remote(), timeout=TIMEOUT)
    assert var == "v1" and in_package_cache(cwd)
    with pytest.raises(ImportError):
        import rtenv_mod  # noqa: F401  (the driver itself does not have it)


def test_java_class_only_in_a_jar_of_the_working_dir(two_nodes) -> None:
    f = polyray.java_function("rtenv.Where", "where").options(resources={"b": 1})
    tag, name, var, cwd = polyray.get(f.remote("j"), timeout=TIMEOUT).split(":", 3)
    assert (tag, name, var) == ("java", "j", "v1") and in_package_cache(cwd)


def test_cpp_function_only_in_a_library_of_the_working_dir(two_nodes) -> None:
    f = polyray.cpp_function("RtEnvCppWhere").options(resources={"b": 1})
    tag, name, var, cwd = polyray.get(f.remote("c"), timeout=TIMEOUT).split(":", 3)
    assert (tag, name, var) == ("cpp", "c", "v1") and in_package_cache(cwd)
