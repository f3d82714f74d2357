"""CUDA_VISIBLE_DEVICES in Java and C++ workers from the GPU indices of their
lease (issue 17), as in Python workers (tests/cluster/test_gpus_labels.py): a
node declaring 2 GPUs, no GPU hardware needed. The raylet starts a GPU lease's
worker with the variable set to its indices and never gives that worker to a
lease of other indices or of none, so it holds before any user code runs."""

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
def gpu_cluster(tmp_path_factory):
    java_out = java_support.compile_java_sources(os.path.join(HERE, "java_gpu_src"),
                                                 str(tmp_path_factory.mktemp("gpu_java")))
    lib = build_cpp("gpu_funcs", [os.path.join(HERE, "cpp_src", "gpu_funcs.cc")], "shared")
    if polyray.is_initialized():
        polyray.shutdown()
    info = polyray.init(num_cpus=2, num_gpus=2, code_search_path=[java_out, lib])
    try:
        yield info
    finally:
        polyray.shutdown()


@pytest.mark.parametrize("language", ["java", "cpp"])
def test_cuda_visible_devices_follows_the_leased_gpus(gpu_cluster, language):
    if language == "java":
        f = polyray.java_function("gputest.Gpu", "cuda")
        cls, method = polyray.java_actor_class("gputest.Gpu"), "actorCuda"
    else:
        f = polyray.cpp_function("Cuda")
        cls, method = polyray.cpp_actor_class("GpuActor::Create", "GpuActor"), "Get"
    # Three workers: the actor's, the other GPU's, and a CPU one (each start is a JVM for Java).
    a = cls.options(num_gpus=1).remote()
    seen = polyray.get(getattr(a, method).remote(), timeout=T)
    assert seen in ("0", "1")
    # While the actor holds its GPU, a 1-GPU task gets the other one.
    other = polyray.get(f.options(num_gpus=1).remote(), timeout=T)
    assert {seen, other} == {"0", "1"}
    assert polyray.get(f.remote(), timeout=T) == "unset", "a CPU task's worker has no CUDA_VISIBLE_DEVICES"
    assert polyray.get(getattr(a, method).remote(), timeout=T) == seen
    polyray.kill(a)
