"""Memory per held ref (issue 14, Deliver 6): bytes per `put` ref held by the driver.

    .venv/bin/python benchmarks/ref_memory.py [--refs 1000000] [--tracemalloc]

Puts ``--refs`` small values (an int each) and keeps every ObjectRef in a
list; prints the growth of the driver's RSS (and, with ``--tracemalloc``, of
the Python heap as tracemalloc counts it) divided by the number of refs. The
refs are what the driver holds: the ObjectRef, its count in the
ReferenceCounter, its entry in the MemoryStore (the inline value) and the
list slot.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import polyray  # noqa: E402


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--refs", type=int, default=1_000_000)
    ap.add_argument("--tracemalloc", action="store_true")
    args = ap.parse_args()
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
