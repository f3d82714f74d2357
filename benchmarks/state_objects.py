"""Time the object listing of the state API (docs/observability.md, "Objects").

    .venv/bin/python benchmarks/state_objects.py [N] [--runs 10]

Starts a one-node cluster in this process, holds N small objects (put by the
driver) plus one 500 KB object and one 200 KB task return, then times
``list_objects()`` (100 rows), ``list_objects(limit=10000)``,
``memory_summary()`` and ``summarize_objects()`` (each goes GCS -> raylet ->
every process's GetObjectRefs), and prints median and max in ms.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import polyray
from polyray.util import state


@polyray.remote
def _blob(n: int) -> bytes:
    return b"x" * n


def _time(fn: Callable[[], object], runs: int) -> str:
    took = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        took.append(time.perf_counter() - t0)
    return f"median {statistics.median(took) * 1000:7.1f} ms, max {max(took) * 1000:7.1f} ms"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("n", type=int, nargs="?", default=5000, help="small objects the driver holds")
    p.add_argument("--runs", type=int, default=10)
    args = p.parse_args()
    polyray.init(num_cpus=2)
    try:
        from polyray.core.object_ref import get_core

        addr = get_core().gcs_address
        held = [polyray.put(i) for i in range(args.n)]
        held.append(polyray.put(b"b" * 500_000))
        ret = _blob.remote(200_000)
        polyray.get(ret)
        held.append(ret)
        print(f"{len(held)} references held by the driver; {args.runs} calls each")
        print("list_objects() (100 rows):     ", _time(lambda: state.list_objects(addr), args.runs))
        print("list_objects(limit=10000):     ", _time(lambda: state.list_objects(addr, limit=10_000), args.runs))
        print("memory_summary():              ", _time(lambda: state.memory_summary(addr), args.runs))
        print("summarize_objects():           ", _time(lambda: state.summarize_objects(addr), args.runs))
    finally:
        polyray.shutdown()


if __name__ == "__main__":
    main()
