"""Memory per held ref (issue 14, Deliver 6): bytes per `put` ref held by the driver.

    .venv/bin/python benchmarks/ref_memory.py [--refs 1000000] [--tracemalloc]
    .venv/bin/python benchmarks/ref_memory.py --lang cpp [--refs 1000000] [--lib DIR]
    .venv/bin/python benchmarks/ref_memory.py --lang java [--refs 1000000]

Puts ``--refs`` small values (an int each) and keeps every ObjectRef in a
list; prints the growth of the driver's RSS (and, with ``--tracemalloc``, of
the Python heap as tracemalloc counts it) divided by the number of refs. The
refs are what the driver holds: the ObjectRef, its count in the
ReferenceCounter, its entry in the MemoryStore (the inline value) and the
list slot.

``--lang cpp`` compiles ``ref_memory_cpp.cc`` (a C++ driver doing the same
with ``polyray::Put``) with ``polyray cpp-flags`` and runs it; ``--lib DIR``
runs it against another build's ``libpolyray.so`` (a copy of an earlier
build, to compare before and after). ``--lang java`` compiles and runs
``RefMemory.java`` (a Java driver; it reports the used heap after a
collection as well as RSS, whose growth the JVM's heap sizing dominates).
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import polyray  # noqa: E402


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_cpp(refs: int, lib: str | None) -> None:
    """Compile and run the C++ driver (ref_memory_cpp.cc); prints its line."""
    here = os.path.dirname(os.path.abspath(__file__))
    cli = os.path.join(os.path.dirname(sys.executable), "polyray")
    flags = subprocess.run([cli, "cpp-flags"], capture_output=True, text=True, check=True).stdout.split()
    if lib:
        flags = [f for f in flags if not f.startswith(("-L", "-Wl,-rpath"))] + [f"-L{lib}", f"-Wl,-rpath,{lib}"]
    exe = os.path.join(tempfile.mkdtemp(prefix="ref_memory_cpp"), "ref_memory_cpp")
    subprocess.run(["g++", "-std=c++17", "-O2", os.path.join(here, "ref_memory_cpp.cc"), *flags, "-o", exe],
                   check=True)
    subprocess.run([exe, str(refs)], check=True)


def run_java(refs: int) -> None:
    """Compile and run the Java driver (RefMemory.java); prints its line."""
    import polyray.sdk

    here = os.path.dirname(os.path.abspath(__file__))
    classpath = polyray.sdk.java_classpath()
    out = tempfile.mkdtemp(prefix="ref_memory_java")
    subprocess.run(["javac", "-cp", ":".join(classpath), "-d", out, os.path.join(here, "RefMemory.java")],
                   check=True)
    env = dict(os.environ, POLYRAY_PYTHON=sys.executable)
    subprocess.run(["java", "-Xmx4g", "-cp", ":".join([out, *classpath]), "RefMemory", str(refs)], check=True, env=env)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--refs", type=int, default=1_000_000)
    ap.add_argument("--tracemalloc", action="store_true")
    ap.add_argument("--lang", choices=("python", "cpp", "java"), default="python")
    ap.add_argument("--lib", help="(cpp) the folder of the libpolyray.so to run against")
    args = ap.parse_args()
    if args.lang == "cpp":
        run_cpp(args.refs, args.lib)
        return
    if args.lang == "java":
        run_java(args.refs)
        return
    polyray.init(num_cpus=1)
    try:
        warm = [polyray.put(i) for i in range(1000)]  # first-use allocations out of the measurement
        del warm
        gc.collect()
        time.sleep(0.5)
        if args.tracemalloc:
            tracemalloc.start()
        before = rss_bytes()
        traced_before = tracemalloc.get_traced_memory()[0] if args.tracemalloc else 0
        started = time.monotonic()
        refs = [polyray.put(i) for i in range(args.refs)]
        took = time.monotonic() - started
        gc.collect()
        after = rss_bytes()
        line = (f"{args.refs} put refs held: {took:.1f} s, RSS +{(after - before) / 2**20:.0f} MiB, "
                f"{(after - before) / args.refs:.0f} B per ref (RSS)")
        if args.tracemalloc:
            traced = tracemalloc.get_traced_memory()[0] - traced_before
            line += f", {traced / args.refs:.0f} B per ref (tracemalloc)"
        print(line)
        del refs
    finally:
        polyray.shutdown()


if __name__ == "__main__":
    main()
