"""Python calling C++: functions and an actor of a shared library.

examples/cpp/example_functions.cc registers ``Plus1``, ``Squares`` and a
``Counter`` actor with ``POLYRAY_REMOTE``. This script builds it into
build/examples/libexample_functions.so with the flags ``polyray cpp-flags``
prints (only when the sources or the SDK headers changed), puts the library
on the job's code search path, and calls it from Python on an embedded
cluster; the calls run in ``polyray_cpp_worker`` processes.
"""

import glob
import os
import shutil
import subprocess
import sys

import numpy as np

import polyray
from polyray import sdk
from polyray.exceptions import TaskError

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SOURCES = [os.path.join(HERE, "cpp", "example_functions.cc"), os.path.join(HERE, "cpp", "example_functions.h")]
LIBRARY = os.path.join(REPO, "build", "examples", "libexample_functions.so")


def build_library() -> str:
    """Compile the example library unless it is newer than its sources and the SDK headers."""
    try:
        flags = sdk.cpp_flags()  # what `polyray cpp-flags` prints
    except sdk.CppSdkMissing as e:
        raise SystemExit(f"{e}") from None
    inputs = SOURCES + glob.glob(os.path.join(sdk.cpp_include_dir(), "**", "*.h"), recursive=True)
    if os.path.exists(LIBRARY) and os.path.getmtime(LIBRARY) >= max(os.path.getmtime(p) for p in inputs):
        return LIBRARY
    compiler = os.environ.get("CXX") or shutil.which("g++")
    if not compiler:
        raise SystemExit("no C++ compiler (g++) on PATH: run `make setup`")
    os.makedirs(os.path.dirname(LIBRARY), exist_ok=True)
    cmd = [compiler, "-std=c++17", "-shared", "-fPIC", SOURCES[0], *flags, "-o", LIBRARY]
    print("building:", " ".join(cmd))
    subprocess.run(cmd, check=True, timeout=900)
    return LIBRARY


def main() -> None:
    library = build_library()
    polyray.init(code_search_path=[library])
    try:
        plus1 = polyray.cpp_function("Plus1")
        print(f"[python driver] Plus1(41) in C++ = {polyray.get(plus1.remote(41), timeout=120)}")
        refs = [plus1.remote(i) for i in range(5)]
        print(f"[python driver] Plus1 over 0..4 = {polyray.get(refs, timeout=120)}")

        squares = polyray.cpp_function("Squares")  # std::vector<double> in and out
        xs = np.linspace(0.0, 2.0, 5)
        squared = polyray.get(squares.remote(xs), timeout=120)  # a numpy array (ndarray <-> std::vector)
        print(f"[python driver] Squares({xs.tolist()}) = {np.asarray(squared).tolist()}")

        Counter = polyray.cpp_actor_class("Counter::Create", "Counter")
        counter = Counter.options(name="cpp-counter").remote(10)
        polyray.get([counter.Add.remote(n) for n in (1, 2, 3)], timeout=120)
        print(f"[python driver] the C++ Counter holds {polyray.get(counter.Value.remote(), timeout=120)}")
        same = polyray.get_actor("cpp-counter")
        print(f"[python driver] found it by name; Add(100) -> {polyray.get(same.Add.remote(100), timeout=120)}")

        try:
            polyray.get(plus1.remote("not a number"), timeout=120)
        except TaskError as e:
            print(f"[python driver] a bad argument is an error from C++: {str(e).splitlines()[0]}")
        try:
            plus1.remote(x=1)
        except TypeError as e:
            print(f"[python driver] keyword arguments are refused before sending: {e}")
    finally:
        polyray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
