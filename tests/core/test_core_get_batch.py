"""get() of many values in this node's store: they are pinned and read in batches
(ObjectGetter._read_batch, issue 14); the values and errors are those of one get per ref."""

from __future__ import annotations

import gc
import os
import signal

import numpy as np
import pytest
from core_util import wait_until

import polyray
from polyray.core import object_getter
from polyray.store import Store

pytestmark = pytest.mark.usefixtures("cluster")

T = 60
KIB = 1024


@polyray.remote
def put_many(n: int, size: int) -> list:
    return [polyray.put(bytes([i % 251]) * size) for i in range(n)]


@polyray.remote
def fails() -> None:
    raise ValueError("the middle one fails")


@polyray.remote
class Owner:
    def pid(self) -> int:
        return os.getpid()

    def put_many(self, n: int, size: int) -> list:
        self.refs = [polyray.put(bytes([i % 251]) * size) for i in range(n)]
        return self.refs


def test_a_batched_get_returns_what_one_get_per_ref_returns():
    n = object_getter.STORE_READ_BATCH + 44  # more than one batch
    borrowed = polyray.get(put_many.remote(n, 100 * KIB), timeout=T)
    arr = np.arange(200_000, dtype=np.int64)
    mine = [polyray.put(arr), polyray.put(b"y" * 200 * KIB)]  # owned here, in the store
    small = [polyray.put(i) for i in range(3)]  # inline
    refs = borrowed[:10] + mine + small + borrowed[10:] + [borrowed[0], mine[0]]  # repeats too
    values = polyray.get(refs, timeout=T)
    one_by_one = [polyray.get(r, timeout=T) for r in refs]
    assert len(values) == len(refs)
    for got, single in zip(values, one_by_one):
        if isinstance(got, np.ndarray):
            assert np.array_equal(got, single) and np.array_equal(got, arr)
            assert not got.flags.writeable  # still a view of the store, not a copy
        else:
            assert got == single
    expected = [bytes([i % 251]) * 100 * KIB for i in range(n)]
    assert values[:10] == expected[:10]
    assert values[10 + 2 + 3:10 + 2 + 3 + n - 10] == expected[10:]
    assert values[-2] == expected[0]
    assert values[10 + 1] == b"y" * 200 * KIB and values[12:15] == [0, 1, 2]


def test_the_first_error_in_list_order_is_raised_among_stored_values():
    refs = polyray.get(put_many.remote(300, 100 * KIB), timeout=T)
    bad = fails.remote()
    with pytest.raises(ValueError, match="the middle one fails"):
        polyray.get(refs[:150] + [bad] + refs[150:], timeout=T)
    with pytest.raises(ValueError, match="the middle one fails"):
        polyray.get([bad] + refs, timeout=T)
    assert polyray.get(refs, timeout=T)[-1] == bytes([299 % 251]) * 100 * KIB


def test_values_of_a_sigkilled_owner_are_lost_not_read_from_a_freed_copy():
    owner = Owner.remote()
    pid = polyray.get(owner.pid.remote(), timeout=T)
    refs = polyray.get(owner.put_many.remote(300, 100 * KIB), timeout=T)
    assert polyray.get(refs, timeout=T)[5] == bytes([5]) * 100 * KIB  # fetched: entries here now
    gc.collect()
    store = Store.open(polyray.nodes()[0]["ObjectStoreName"])
    try:
        os.kill(pid, signal.SIGKILL)
        # The raylet frees a dead owner's objects: wait until it has, then read.
        assert wait_until(lambda: not any(store.contains(r.binary()) for r in refs), 30), \
            "the dead owner's objects stayed in the store"
    finally:
        store.close()
    with pytest.raises(polyray.exceptions.ObjectLostError):
        polyray.get(refs, timeout=25)

