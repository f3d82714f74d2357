"""Bounded get fan-out (issue 14, finding 1 and Deliver 2).

A driver get of 10,000 refs owned by one worker, and by 100 workers (actors),
and the nested tree of finding 1 (each task returns refs to its two
children's results; the driver walks it level by level). Before GetObjects
and the per-owner cap, a get of 1,500 refs of one owner failed with
``ObjectLostError: the owner ... is unreachable (CANCELLED)``.
"""

from __future__ import annotations

import time

import polyray

N = 10_000


@polyray.remote
def put_many(n: int, size: int) -> list:
    """Puts n values of `size` bytes (owned by this worker) and returns their refs."""
    return [polyray.put(bytes([i % 251]) * size) for i in range(n)]


@polyray.remote
class Owner:
    def put_many(self, base: int, n: int) -> list:
        self.refs = [polyray.put(base + i) for i in range(n)]
        return self.refs


@polyray.remote
def tree(depth: int) -> object:
    """A leaf is 1; a node returns refs to its two children's results."""
    if depth == 0:
        return 1
    return [tree.remote(depth - 1), tree.remote(depth - 1)]


def walk(root, depth: int) -> int:
    """Walk the tree level by level (one get per level); the number of leaves."""
    level = [root]
    for _ in range(depth):
        children = polyray.get(level, timeout=120)
        level = [r for pair in children for r in pair]
    return sum(polyray.get(level, timeout=120))


def test_get_10000_refs_owned_by_one_worker(cluster):
    refs = polyray.get(put_many.remote(N, 1024), timeout=60)
    assert len(refs) == N
    started = time.monotonic()
    values = polyray.get(refs, timeout=60)
    took = time.monotonic() - started
    assert [v[0] for v in values] == [i % 251 for i in range(N)]
    assert all(len(v) == 1024 for v in values)
    print(f"get of {N} refs (1 KiB) owned by one worker: {took:.2f} s")
    # Again, now that every value is local: no fetch at all.
    started = time.monotonic()
    assert len(polyray.get(refs, timeout=60)) == N
    print(f"second get: {time.monotonic() - started:.2f} s")


def test_get_10000_refs_owned_by_100_actors(cluster):
    owners = [Owner.remote() for _ in range(100)]
    lists = polyray.get([o.put_many.remote(i * 100, 100) for i, o in enumerate(owners)], timeout=120)
    refs = [r for lst in lists for r in lst]
    assert len(refs) == N
    started = time.monotonic()
    values = polyray.get(refs, timeout=60)
    took = time.monotonic() - started
    assert values == list(range(N))
    print(f"get of {N} refs owned by 100 actors: {took:.2f} s")
    for o in owners:
        polyray.kill(o)


def test_nested_tree_depth_10(cluster):
    started = time.monotonic()
    assert walk(tree.remote(10), 10) == 2 ** 10
    print(f"tree of depth 10 (2,047 tasks) walked in {time.monotonic() - started:.2f} s")
