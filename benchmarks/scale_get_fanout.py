"""Get fan-out at scale (issue 14, finding 1): the nested tree and wide gets, timed.

    .venv/bin/python benchmarks/scale_get_fanout.py [--depth 12] [--refs 10000]

A tree of nested tasks (each returns refs to its two children's results; the
driver walks it level by level, keeping the levels and then dropping each
once read: finding 2), a get of ``--refs`` refs owned by one
worker, and one of the same number owned by 100 actors. Prints one line per
pattern with its time. ``--unbounded`` turns the per-owner cap off (one id per
fetch, no limit in flight), which is how fetches went before GetObjects.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time

try:
    # Already importable: the editable install, or the Ray stand-in of
    # benchmarks/scale_compare.py, which imports tree/walk from here.
    import polyray
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import polyray


@polyray.remote
def tree(depth: int) -> object:
    if depth == 0:
        return 1
    return [tree.remote(depth - 1), tree.remote(depth - 1)]


@polyray.remote
def put_many(n: int, size: int) -> list:
    return [polyray.put(bytes([i % 251]) * size) for i in range(n)]


@polyray.remote
class Owner:
    def put_many(self, base: int, n: int) -> list:
        self.refs = [polyray.put(base + i) for i in range(n)]
        return self.refs


def walk(root, depth: int) -> int:
    level = [root]
    for _ in range(depth):
        level = [r for pair in polyray.get(level, timeout=300) for r in pair]
    return sum(polyray.get(level, timeout=300))


def walk_dropping(root, depth: int) -> int:
    """The same walk, letting go of each level once its children are read (finding 2)."""
    level = [root]
    del root
    for _ in range(depth):
        children = polyray.get(level, timeout=300)
        del level
        gc.collect()  # the outer refs go now, while the inner ones are being registered
        level = [r for pair in children for r in pair]
        del children
    return sum(polyray.get(level, timeout=300))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=12)
    ap.add_argument("--refs", type=int, default=10_000)
    ap.add_argument("--unbounded", action="store_true")
    args = ap.parse_args()
    if args.unbounded:
        from polyray.core import object_getter
        object_getter.MAX_IDS_PER_FETCH = 1
        object_getter.MAX_FETCHES_PER_OWNER = 1 << 30
    polyray.init(num_cpus=2)
    try:
        t = time.monotonic()
        try:
            leaves = walk(tree.remote(args.depth), args.depth)
            print(f"tree depth {args.depth} ({2 ** (args.depth + 1) - 1} tasks): {time.monotonic() - t:.2f} s, "
                  f"{leaves} leaves")
        except Exception as e:  # noqa: BLE001
            print(f"tree depth {args.depth}: FAILED after {time.monotonic() - t:.2f} s: {type(e).__name__}: "
                  f"{str(e)[:160]}")
        t = time.monotonic()
        try:
            leaves = walk_dropping(tree.remote(args.depth), args.depth)
            print(f"tree depth {args.depth}, dropped as walked: {time.monotonic() - t:.2f} s, {leaves} leaves")
        except Exception as e:  # noqa: BLE001
            print(f"tree depth {args.depth}, dropped: FAILED after {time.monotonic() - t:.2f} s: "
                  f"{type(e).__name__}: {str(e)[:160]}")
        refs = polyray.get(put_many.remote(args.refs, 1024), timeout=300)
        t = time.monotonic()
        try:
            polyray.get(refs, timeout=300)
            print(f"get of {args.refs} refs (1 KiB) owned by one worker: {time.monotonic() - t:.2f} s")
        except Exception as e:  # noqa: BLE001
            print(f"get of {args.refs} refs of one worker: FAILED: {type(e).__name__}: {str(e)[:160]}")
        owners = [Owner.remote() for _ in range(100)]
        per = args.refs // 100
        refs = [r for lst in polyray.get([o.put_many.remote(i * per, per) for i, o in enumerate(owners)],
                                         timeout=300) for r in lst]
        t = time.monotonic()
        try:
            polyray.get(refs, timeout=300)
            print(f"get of {len(refs)} refs owned by 100 actors: {time.monotonic() - t:.2f} s")
        except Exception as e:  # noqa: BLE001
            print(f"get of {len(refs)} refs of 100 actors: FAILED: {type(e).__name__}: {str(e)[:160]}")
    finally:
        polyray.shutdown()


if __name__ == "__main__":
    main()
