"""Issue 19: a Python caller's max_concurrency reaches a C++ actor (real C++ workers): 4 naps of
1 s on max_concurrency=4 overlap; with the default 1 they run one after another."""

from __future__ import annotations

import os
import sys
import time

import pytest

import polyray

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "xlang"))
from xlang_support import build_cpp  # noqa: E402

TIMEOUT = 90
pytestmark = pytest.mark.timeout(600)  # the first run compiles the library


@pytest.fixture(scope="module")
def nappers():
    lib = build_cpp("concurrency_funcs", [os.path.join(HERE, "cpp_src", "concurrency_funcs.cc")], "shared")
    if polyray.is_initialized():
        polyray.shutdown()
    polyray.init(num_cpus=2, code_search_path=[lib])
    cls = polyray.cpp_actor_class("Napper::Create", "Napper")
    four, one = cls.options(max_concurrency=4).remote(), cls.remote()
    polyray.get([four.MostInFlight.remote(), one.MostInFlight.remote()], timeout=TIMEOUT)
    yield four, one
    polyray.shutdown()


def test_cpp_actor_honours_max_concurrency_from_python(nappers):
    four, one = nappers
    t0 = time.monotonic()
    assert polyray.get([four.Nap.remote(i, 1000) for i in range(4)], timeout=TIMEOUT) == [0, 1, 2, 3]
    took = time.monotonic() - t0
    assert took < 1.9, f"4 naps of 1 s on max_concurrency=4 took {took:.2f} s"
    assert polyray.get(four.MostInFlight.remote(), timeout=TIMEOUT) == 4
    t0 = time.monotonic()
    assert polyray.get([one.Nap.remote(i, 300) for i in range(4)], timeout=TIMEOUT) == [0, 1, 2, 3]
    took = time.monotonic() - t0
    assert took >= 1.15, f"4 naps of 0.3 s on the default max_concurrency took only {took:.2f} s"
    assert polyray.get(one.MostInFlight.remote(), timeout=TIMEOUT) == 1


def test_num_returns_a_cpp_callee_cannot_honour_is_an_error_at_remote(nappers):
    f = polyray.cpp_function("Napper::Create").options(num_returns=2)
    with pytest.raises(ValueError, match="'num_returns'=2 is not supported for C\\+\\+ function"):
        f.remote()
    four, _ = nappers
    with pytest.raises(ValueError, match="'num_returns'=3 is not supported for C\\+\\+ actor method Napper.Nap"):
        four.Nap.options(num_returns=3).remote(0, 1)
    assert polyray.get(four.Nap.remote(7, 1), timeout=TIMEOUT) == 7  # nothing was sent; the actor still answers
