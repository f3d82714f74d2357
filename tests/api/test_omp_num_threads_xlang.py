"""OMP_NUM_THREADS in Java and C++ workers follows the task's num_cpus unless set (issue 17).

As Ray and Python workers (tests/api/test_api_parity_small.py): a task's
OMP_NUM_THREADS is its num_cpus as an int, at least 1; an actor's is set at its
creation; a worker whose environment sets it (runtime_env env_vars) keeps it.
"""

from __future__ import annotations

import os
import sys

import java_support
import pytest

import polyray

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "xlang"))
from xlang_support import build_cpp  # noqa: E402

pytestmark = pytest.mark.timeout(600)  # the first run compiles the C++ library
T = 90


@pytest.fixture(scope="module")
def omp_cluster(tmp_path_factory):
    java_out = java_support.compile_java_sources(os.path.join(HERE, "java_omp_src"),
                                                 str(tmp_path_factory.mktemp("omp_java")))
    lib = build_cpp("omp_funcs", [os.path.join(HERE, "cpp_src", "omp_funcs.cc")], "shared")
    if polyray.is_initialized():
        polyray.shutdown()
    info = polyray.init(num_cpus=4, code_search_path=[java_out, lib])
    try:
        yield info
    finally:
        polyray.shutdown()


@pytest.mark.parametrize("language", ["java", "cpp"])
def test_omp_num_threads_follows_num_cpus_unless_set(omp_cluster, language):
    if language == "java":
        f = polyray.java_function("omptest.Omp", "omp")
        cls, method = polyray.java_actor_class("omptest.Omp"), "actorOmp"
    else:
        f = polyray.cpp_function("Omp")
        cls, method = polyray.cpp_actor_class("OmpActor::Create", "OmpActor"), "Get"
    assert polyray.get(f.remote(), timeout=T) == "1"
    assert polyray.get(f.options(num_cpus=2).remote(), timeout=T) == "2"
    assert polyray.get(f.options(num_cpus=0.5).remote(), timeout=T) == "1"
    assert polyray.get(f.remote(), timeout=T) == "1", "a reused worker follows the next task's num_cpus"
    a = cls.options(num_cpus=2).remote()
    assert polyray.get(getattr(a, method).remote(), timeout=T) == "2"
    polyray.kill(a)  # its CPUs back for the next language's
    set_by_user = f.options(runtime_env={"env_vars": {"OMP_NUM_THREADS": "7"}}, num_cpus=1)
    assert polyray.get(set_by_user.remote(), timeout=T) == "7"
