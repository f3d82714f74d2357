"""Views are zero-copy, read-only, and pin their object exactly as long as needed."""

from __future__ import annotations

import gc

import numpy as np
import pyarrow as pa
import pytest
from store_util import oid

from polyray._store_cffi import ffi
from polyray.store import NotPinnedError, StoreFullError


def _mapping_of(store_name: str) -> list[tuple[int, int]]:
    """Address ranges where this process maps the segment (from /proc/self/maps)."""
    ranges = []
    with open("/proc/self/maps") as f:
        for line in f:
            if line.rstrip().endswith("/dev/shm" + store_name):
                lo, hi = line.split()[0].split("-")
                ranges.append((int(lo, 16), int(hi, 16)))
    assert ranges, f"{store_name} is not mapped"
    return ranges


def _inside(addr: int, size: int, ranges: list[tuple[int, int]]) -> bool:
    return any(lo <= addr and addr + size <= hi for lo, hi in ranges)


def _pins(store, object_id):
    return {i.object_id: i.pins for i in store.list()}[object_id]


def test_get_is_zero_copy(store, store_name):
    src = np.arange(1 << 18, dtype=np.float32)  # 1 MiB
    store.put(oid(1), src, metadata=b"float32")
    view = store.get_one(oid(1))
    arr = np.frombuffer(view.data, dtype=np.float32)
    addr = arr.__array_interface__["data"][0]
    ranges = _mapping_of(store_name)
    assert _inside(addr, arr.nbytes, ranges)
    # Every route to the bytes sees the same address: no copy anywhere.
    assert int(ffi.cast("uintptr_t", ffi.from_buffer(view.data))) == addr
    assert pa.py_buffer(view.data).address == addr
    meta_addr = int(ffi.cast("uintptr_t", ffi.from_buffer(view.metadata)))
    assert _inside(meta_addr, 7, ranges)
    # A second get of the same object maps the same bytes.
    with store.get_one(oid(1)) as again:
        assert np.frombuffer(again.data, np.uint8).__array_interface__["data"][0] == addr
    np.testing.assert_array_equal(arr, src)


def test_views_are_read_only(store):
    store.put(oid(1), np.zeros(16, np.int64), metadata=b"m")
    with store.get_one(oid(1)) as view:
        arr = np.frombuffer(view.data, dtype=np.int64)
        assert not arr.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 1
        with pytest.raises(ValueError):
            arr.setflags(write=True)
        assert view.data.readonly and view.metadata.readonly
        with pytest.raises(TypeError):
            view.metadata[0] = 0
        assert not pa.py_buffer(view.data).is_mutable
        del arr


def test_array_outlives_view(store):
    store.put(oid(1), np.arange(1000, dtype=np.int64))
    view = store.get_one(oid(1))
    arr = np.frombuffer(view.data, dtype=np.int64)
    del view
    gc.collect()
    assert store.stats().pinned_objects == 1  # the array still pins the object
    assert _pins(store, oid(1)) == 1
    assert int(arr.sum()) == sum(range(1000))
    del arr
    assert store.stats().pinned_objects == 0  # refcounting frees it at once
    with pytest.raises(NotPinnedError):  # released exactly once: nothing left
        store.release(oid(1))


def test_release_keeps_pin_while_buffers_live(store):
    store.put(oid(1), b"abcdef", metadata=b"meta")
    view = store.get_one(oid(1))
    part = view.data[2:4]  # memoryview slice
    meta_arr = np.frombuffer(view.metadata, np.uint8)
    pab = pa.py_buffer(view.data)
    view.release()
    assert store.stats().pinned_objects == 1
    del part
    assert store.stats().pinned_objects == 1
    del pab
    assert store.stats().pinned_objects == 1
    assert meta_arr.tobytes() == b"meta"
    del meta_arr  # metadata-only holders keep the pin too
    assert store.stats().pinned_objects == 0


def test_each_view_drops_its_own_pin_once(store):
    store.put(oid(1), b"x" * 64)
    a = store.get_one(oid(1))
    b, c = store.get([oid(1), oid(1)])
    arr = np.frombuffer(b.data, np.uint8)
    assert _pins(store, oid(1)) == 3
    a.release()
    assert _pins(store, oid(1)) == 2
    del b
    gc.collect()
    assert _pins(store, oid(1)) == 2  # arr holds b's pin
    c.release()
    c.release()
    assert _pins(store, oid(1)) == 1
    del arr
    assert _pins(store, oid(1)) == 0
    with pytest.raises(NotPinnedError):
        store.release(oid(1))


def test_pinned_view_survives_eviction_and_delete(store):
    big = (store.stats().capacity // 2) + 1
    store.put(oid(1), np.full(big, 7, np.uint8))
    view = store.get_one(oid(1))
    arr = np.frombuffer(view.data, np.uint8)
    del view
    with pytest.raises(StoreFullError):
        store.put(oid(2), np.zeros(big, np.uint8))  # cannot evict a pinned object
    assert store.evict(big) == 0
    store.delete(oid(1))  # deferred until the array is gone
    assert int(arr[big - 1]) == 7 and arr.min() == 7
    del arr
    assert not store.contains(oid(1))
    store.put(oid(2), np.zeros(big, np.uint8))  # the memory came back
