"""A C++ caller's actor call waiting for an argument does not hold up other callers (issue 17).

The C++ driver (cpp_src/call_args_driver.cc) calls a C++ actor with the ref of
a slow C++ task, then once more; a C++ task given the actor's handle calls it
too. As Ray's and the Python/Java callers, the C++ caller resolves the
argument before its call enters the actor's stream: the other caller's call
returns while the slow value is still being computed, and the driver's own
calls keep their order (its second call runs after the first). Then a C++
task given the driver's pending ref (borrowed) calls the actor with it: the
borrower fetches it from its owner, and the driver's call made meanwhile runs
first.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import polyray

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "xlang"))
from xlang_support import build_cpp, results  # noqa: E402

pytestmark = pytest.mark.timeout(600)  # the first run compiles the library and the driver
SLOW_MS = 4000


@pytest.fixture(scope="module")
def args_cluster():
    src = os.path.join(HERE, "cpp_src")
    lib = build_cpp("call_args_funcs", [os.path.join(src, "call_args_funcs.cc")], "shared")
    exe = build_cpp("call_args_driver", [os.path.join(src, "call_args_driver.cc")], "exe", [f"-I{src}"])
    if polyray.is_initialized():
        polyray.shutdown()
    info = polyray.init(num_cpus=3, code_search_path=[lib])
    try:
        yield info, lib, exe
    finally:
        polyray.shutdown()


def test_cpp_caller_resolves_a_pending_argument_before_the_actor_stream(args_cluster):
    info, lib, exe = args_cluster
    env = dict(os.environ)
    env.pop("POLYRAY_ADDRESS", None)
    p = subprocess.run([exe, info["address"], lib, str(SLOW_MS)], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and "DONE" in p.stdout, f"driver failed ({p.returncode}):\n{p.stdout}\n{p.stderr[-4000:]}"
    r = results(p.stdout)
    assert r["other"] == "other-caller"
    assert r["slow_pending_when_other_returned"] == "true", (
        f"the other caller's call returned only after the slow argument was ready ({r['other_ms']} ms)")
    assert r["taking"] == "slow" and r["mine"] == "driver-after"
    assert r["log"] == "other-caller,take:slow,driver-after", r["log"]
    # A borrower (a C++ task) passes the driver's pending ref: it fetches it from the owner,
    # and the driver's later call overtakes the borrower's two calls.
    assert r["driver_mark"] == "driver"
    assert r["slow2_pending_when_driver_returned"] == "true"
    assert r["borrowed_take"] == "slow" and r["borrowed_after"] == "after-borrowed"
    assert r["log2"] == "driver,take:slow,after-borrowed", r["log2"]
