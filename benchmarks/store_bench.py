"""Shared-store benchmark from Python, beside plain numpy copies on the same machine.

    .venv/bin/python benchmarks/store_bench.py [--quick]

Prints, each as median and min-max over several repetitions:
  * small objects (100 B): put+get+release and create+write+seal+get+release
    per second;
  * 100 MB put throughput into fresh shared pages (first touch) and into
    pages used before, beside numpy: ``np.copyto`` into a preallocated array
    and ``arr.copy()`` into fresh memory;
  * get latency of 1 MB, 100 MB and 1 GB objects (a get is a view: it should
    not depend on the size), and reading a got 100 MB view beside reading a
    private array.

Targets (docs/architecture.md): get O(1) in size; put within 80% of memcpy; more than
50,000 small put+get pairs per second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid

import numpy as np

from polyray.store import OBJECT_ID_SIZE, Store

MB = 1 << 20
GB = 1 << 30


def oid(n: int, tag: bytes = b"b") -> bytes:
    """Object id number n."""
    return (tag + n.to_bytes(8, "little")).ljust(OBJECT_ID_SIZE, b"\0")


def spread(xs: list[float], fmt: str = "{:,.0f}") -> str:
    """'median (min-max)' of xs."""
    return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}-{fmt.format(max(xs))})"


def bench_small(store: Store, reps: int, n: int) -> None:
    """Small-object round trips per second, two ways."""
    data = b"x" * 100
    put_rates, build_rates = [], []
    for r in range(reps):
        ids = [oid(i, b"s%d" % r) for i in range(n)]
        put, get_one = store.put, store.get_one
        t0 = time.perf_counter()
        for k in ids:
            put(k, data)
            get_one(k).release()
        put_rates.append(n / (time.perf_counter() - t0))
        store.evict(1 << 62)

        ids = [oid(i, b"c%d" % r) for i in range(n)]
        create = store.create_object
        t0 = time.perf_counter()
        for k in ids:
            b = create(k, 100)
            b.data[:] = data
            b.seal()
            get_one(k).release()
        build_rates.append(n / (time.perf_counter() - t0))
        store.evict(1 << 62)
    print(f"small 100 B put+get+release            {spread(put_rates)} ops/s"
          f"   (target > 50,000)")
    print(f"small 100 B create+write+seal+get+rel  {spread(build_rates)} ops/s")


def bench_large(store: Store, reps: int, size: int) -> None:
    """Put throughput against numpy copies of the same size."""
    src = np.random.default_rng(0).integers(0, 255, size, dtype=np.uint8)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # fault dst in: this is the warm-memcpy baseline

    def gbps(fn) -> list[float]:
        out = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            out.append(size / (time.perf_counter() - t0) / 1e9)
        return out

    copyto = gbps(lambda: np.copyto(dst, src))
    fresh = gbps(lambda: src.copy())

    # Cold: every put lands on pages of the segment never touched before (a
    # new segment per repetition), as the first objects of a node do.
    cold = []
    for _ in range(reps):
        name = f"/prs-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        with Store.create(name, size + MB) as s:
            t0 = time.perf_counter()
            s.put(oid(0), src)
            cold.append(size / (time.perf_counter() - t0) / 1e9)
        Store.unlink(name)

    # Warm: the same region again (the steady state of a busy node).
    warm = []
    store.put(oid(0, b"w"), src)
    store.delete(oid(0, b"w"))
    for r in range(reps):
        k = oid(r, b"L")
        t0 = time.perf_counter()
        store.put(k, src)
        warm.append(size / (time.perf_counter() - t0) / 1e9)
        store.delete(k)

    mb = size // MB
    print(f"{mb} MB np.copyto (prealloc)        {spread(copyto, '{:.2f}')} GB/s")
    print(f"{mb} MB arr.copy() (fresh memory)   {spread(fresh, '{:.2f}')} GB/s")
    print(f"{mb} MB put, pages used before      {spread(warm, '{:.2f}')} GB/s"
          f"   = {statistics.median(warm) / statistics.median(copyto):.0%} of copyto"
          f" (target >= 80%)")
    print(f"{mb} MB put, fresh shm pages        {spread(cold, '{:.2f}')} GB/s"
          f"   = {statistics.median(cold) / statistics.median(fresh):.0%} of fresh copy")

    # get: a view, then reading it, beside reading a private array.
    store.put(oid(1, b"L"), src)
    gets = []
    for _ in range(reps):
        t0 = time.perf_counter()
        v = store.get_one(oid(1, b"L"))
        a = np.frombuffer(v.data, np.uint8)
        gets.append(time.perf_counter() - t0)
        del a
        v.release()
    with store.get_one(oid(1, b"L")) as v:
        a = np.frombuffer(v.data, np.uint64)
        read_view = []
        for _ in range(reps):
            t0 = time.perf_counter()
            a.sum()
            read_view.append(size / (time.perf_counter() - t0) / 1e9)
        del a
    priv = dst.view(np.uint64)
    read_priv = []
    for _ in range(reps):
        t0 = time.perf_counter()
        priv.sum()
        read_priv.append(size / (time.perf_counter() - t0) / 1e9)
    nominal = [size / g / 1e9 for g in gets]
    print(f"{mb} MB get (view + np.frombuffer)  {spread(nominal, '{:,.0f}')} GB/s nominal"
          f" = size / {spread([g * 1e6 for g in gets], '{:.1f}')} us")
    print(f"{mb} MB read through the view (sum) {spread(read_view, '{:.2f}')} GB/s"
          f"   vs private array {spread(read_priv, '{:.2f}')} GB/s")
    store.delete(oid(1, b"L"))


def bench_get_sizes(reps: int, sizes: list[int]) -> None:
    """get latency per object size: a view costs the same for any size."""
    name = f"/prs-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    cap = sum(sizes) + 16 * MB
    with Store.create(name, cap) as s:
        for i, size in enumerate(sizes):
            # Sealed without writing: the pages stay untouched (no RAM used),
            # which does not matter to a get, that never reads them.
            s.create_object(oid(i, b"g"), size).seal()
        for i, size in enumerate(sizes):
            k = oid(i, b"g")
            lat = []
            for _ in range(max(reps, 20)):
                t0 = time.perf_counter()
                v = s.get_one(k)
                a = np.frombuffer(v.data, np.uint8)
                lat.append((time.perf_counter() - t0) * 1e6)
                del a
                v.release()
            label = f"{size // GB} GB" if size >= GB else f"{size // MB} MB"
            print(f"get latency {label:>7} (get_one + np.frombuffer)  "
                  f"{spread(lat, '{:.1f}')} us")
    Store.unlink(name)


def main() -> None:
    """Run every measurement and print the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = p.parse_args()
    reps = 3 if args.quick else 7
    print(f"polyray store benchmark: {os.cpu_count()} CPUs, {reps} repetitions,"
          f" median (min-max)")
    name = f"/prs-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    store = Store.create(name, 512 * MB)
    try:
        bench_small(store, reps, 20000 if args.quick else 50000)
        bench_large(store, reps, 100 * MB)
    finally:
        store.close()
        Store.unlink(name)
    bench_get_sizes(reps, [MB, 100 * MB, GB])


if __name__ == "__main__":
    main()
