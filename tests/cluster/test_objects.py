"""Objects between nodes: pulled in chunks into the reader's store, locations recorded."""

from __future__ import annotations

import hashlib
import time

import numpy as np

import polyray
from polyray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

MB = 1024 * 1024


def _on(node_id: str) -> NodeAffinitySchedulingStrategy:
    return NodeAffinitySchedulingStrategy(node_id, soft=False)


@polyray.remote
def digest(arr) -> tuple:
    return hashlib.sha256(memoryview(arr).cast("B")).hexdigest(), polyray.get_runtime_context().get_node_id()


@polyray.remote
def make(n_bytes: int, seed: int):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, n_bytes, dtype=np.uint8)


def test_500mb_object_moves_between_nodes_both_ways(cluster3, capsys):
    head, b, _ = (n.node_id for n in cluster3.nodes)
    data = np.random.default_rng(1).integers(0, 255, 500 * MB, dtype=np.uint8)
    want = hashlib.sha256(data).hexdigest()
    ref = polyray.put(data)
    del data
    # Driver (head) -> node B: the task's argument is pulled into B's store.
    started = time.monotonic()
    got, node = polyray.get(digest.options(scheduling_strategy=_on(b)).remote(ref), timeout=120)
    to_b = time.monotonic() - started
    assert (got, node) == (want, b)
    del ref
    # Node B -> driver: a 500 MB return made on B is pulled by get() on the head.
    out = make.options(scheduling_strategy=_on(b)).remote(500 * MB, 2)
    polyray.wait([out], timeout=120, fetch_local=False)  # made, still on B: get() pulls it
    started = time.monotonic()
    arr = polyray.get(out, timeout=120)
    to_head = time.monotonic() - started
    expect = np.random.default_rng(2).integers(0, 255, 500 * MB, dtype=np.uint8)
    assert arr.shape == expect.shape and np.array_equal(arr, expect)
    with capsys.disabled():
        print(f"\n500 MB head->B (task incl.) {to_b:.2f} s = {500 / to_b:.0f} MB/s; "
              f"B->head get() {to_head:.2f} s = {500 / to_head:.0f} MB/s")
    del arr, out, expect


def test_concurrent_readers_on_one_node_share_one_pull(cluster3):
    _, b, _ = (n.node_id for n in cluster3.nodes)
    data = np.arange(40 * MB // 8, dtype=np.int64)
    want = hashlib.sha256(data).hexdigest()
    ref = polyray.put(data)
    refs = [digest.options(scheduling_strategy=_on(b), num_cpus=0.5).remote(ref) for _ in range(4)]
    assert {r[0] for r in polyray.get(refs, timeout=120)} == {want}


def test_object_made_on_one_node_read_by_a_task_on_another(cluster3):
    _, b, c = (n.node_id for n in cluster3.nodes)
    out = make.options(scheduling_strategy=_on(b)).remote(30 * MB, 3)
    got, node = polyray.get(digest.options(scheduling_strategy=_on(c)).remote(out), timeout=120)
    assert node == c
    assert got == hashlib.sha256(np.random.default_rng(3).integers(0, 255, 30 * MB, dtype=np.uint8)).hexdigest()
    # And the driver reads it too (a third copy, on the head).
    assert polyray.get(out, timeout=60).nbytes == 30 * MB
