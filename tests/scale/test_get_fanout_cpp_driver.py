"""A C++ driver's get of 10,000 refs owned by one Python worker and by one C++
worker (issue 14, Deliver 2): the C++ fetcher (ObjectFetcher) batches the ids
in GetObjects of at most 1,000 ids, at most 4 calls open per owner. Before it
sent one GetObject per ref, all at once."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "xlang"))
from xlang_support import build_cpp  # noqa: E402

pytestmark = pytest.mark.timeout(600)  # the first run compiles the driver and the library
N = 10_000


@pytest.fixture(scope="module")
def built() -> tuple[str, str]:
    lib = build_cpp("scale_funcs", [os.path.join(HERE, "cpp_src", "scale_funcs.cc")], "shared")
    exe = build_cpp("get_many_driver", [os.path.join(HERE, "cpp_src", "get_many_driver.cc")], "exe")
    return exe, lib


@pytest.mark.parametrize("owner", ["python", "cpp"])
def test_cpp_driver_gets_10000_refs_owned_by_one_worker(built, owner):
    exe, lib = built
    env = dict(os.environ)
    env["POLYRAY_PYTHON"] = sys.executable
    env.pop("POLYRAY_ADDRESS", None)
    proc = subprocess.run([exe, owner, str(N), os.path.join(HERE, "py_src"), os.path.dirname(lib)],
                          capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    m = re.search(r"RESULT n=(\d+) sum=(\d+) seconds=([\d.e+-]+)", proc.stdout)
    assert m, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert int(m.group(1)) == N and int(m.group(2)) == N * (N - 1) // 2
    print(f"C++ driver: get of {N} refs owned by one {owner} worker: {float(m.group(3)):.2f} s")
