"""A Python driver's get of 10,000 refs owned by one C++ worker (issue 14, Deliver 2):
the C++ owner serves GetObjects (CoreWorkerServer) to the Python fetcher,
which batches and caps its calls."""

from __future__ import annotations

import os
import sys
import time

import pytest

import polyray
from polyray.core import object_getter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "xlang"))
from xlang_support import build_cpp  # noqa: E402

pytestmark = pytest.mark.timeout(600)  # the first run compiles the library
N = 10_000


@pytest.fixture(scope="module")
def cpp_cluster():
    lib = build_cpp("scale_funcs", [os.path.join(HERE, "cpp_src", "scale_funcs.cc")], "shared")
    if polyray.is_initialized():
        polyray.shutdown()
    polyray.init(num_cpus=2, code_search_path=[os.path.dirname(lib)])
    yield
    polyray.shutdown()


def test_get_10000_refs_owned_by_one_cpp_worker(cpp_cluster, monkeypatch):
    legacy = []
    real = object_getter.ObjectGetter._fetch_each

    async def fetch_each(self, q, ids):
        legacy.append(len(ids))  # the owner answered GetObjects with UNIMPLEMENTED
        await real(self, q, ids)
    monkeypatch.setattr(object_getter.ObjectGetter, "_fetch_each", fetch_each)
    refs = polyray.get(polyray.cpp_function("ScalePutMany").remote(N), timeout=90)
    assert len(refs) == N
    started = time.monotonic()
    values = polyray.get(refs, timeout=60)
    print(f"get of {N} refs owned by one C++ worker: {time.monotonic() - started:.2f} s")
    assert list(values) == list(range(N))
    assert not legacy, "the C++ owner did not serve GetObjects"
