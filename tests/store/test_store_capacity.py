"""Store full and eviction: least recently used first, pinned never."""

from __future__ import annotations

import pytest
from store_util import oid

from polyray import exceptions as pexc
from polyray.store import Store, StoreFullError

MIB = 1 << 20
QUARTER = 256 << 10  # a multiple of the allocator's alignment: 4 fill 1 MiB


@pytest.fixture
def small(store_name):
    """A 1 MiB store."""
    s = Store.create(store_name, MIB)
    yield s
    s.close()


def test_store_full_message_names_sizes(small):
    cap = small.stats().capacity
    with pytest.raises(StoreFullError) as ei:
        small.create_object(oid(1), 2 * MIB)
    e = ei.value
    assert isinstance(e, pexc.ObjectStoreFullError)
    msg = str(e)
    assert str(2 * MIB) in msg, msg  # the requested size
    assert str(cap) in msg, msg  # and the capacity
    with pytest.raises(StoreFullError):
        small.put(oid(1), b"\0" * (cap + 1))
    assert small.stats().objects == 0


def test_lru_eviction(small):
    for i in range(4):
        small.put(oid(i), bytes([i]) * QUARTER)
    assert small.stats().bytes_used == MIB
    pinned = small.get_one(oid(0))  # the oldest, but pinned
    small.get_one(oid(2)).release()  # 2 becomes the most recently used
    # Room for a new object: evicts 1, the least recently used unpinned.
    small.put(oid(4), b"\4" * QUARTER)
    assert [small.contains(oid(i)) for i in range(5)] == [True, False, True, True, True]
    assert small.stats().evictions == 1
    # Next in LRU order: 3, then 2 (touched), then 4.
    small.put(oid(5), b"\5" * QUARTER)
    assert not small.contains(oid(3)) and small.contains(oid(2))
    small.put(oid(6), b"\6" * QUARTER)
    assert not small.contains(oid(2)) and small.contains(oid(4))
    assert small.stats().evictions == 3
    assert bytes(pinned.data) == b"\0" * QUARTER
    pinned.release()


def test_explicit_evict_skips_pinned(small):
    for i in range(4):
        small.put(oid(i), bytes([i]) * QUARTER)
    views = small.get([oid(1), oid(3)])
    freed = small.evict(MIB)  # asks for everything
    assert freed == 2 * QUARTER
    assert [small.contains(oid(i)) for i in range(4)] == [False, True, False, True]
    assert small.stats().pinned_objects == 2
    # Everything left is pinned: a new object cannot fit.
    small.put(oid(4), b"x" * QUARTER)
    small.put(oid(5), b"x" * QUARTER)
    hold = small.get([oid(4), oid(5)])
    with pytest.raises(StoreFullError) as ei:
        small.put(oid(6), b"x" * QUARTER)
    assert str(QUARTER) in str(ei.value)
    del views, hold
    small.put(oid(6), b"x" * QUARTER)  # now evictable again


def test_unsealed_objects_are_not_evicted(small):
    b = small.create_object(oid(0), 3 * QUARTER)
    small.put(oid(1), b"x" * QUARTER)
    with pytest.raises(StoreFullError):
        small.put(oid(2), b"x" * (2 * QUARTER))
    small.put(oid(2), b"x" * QUARTER)  # evicts the sealed one
    assert not small.contains(oid(1))
    b.data[:4] = b"kept"
    b.seal()
    with small.get_one(oid(0)) as v:
        assert bytes(v.data[:4]) == b"kept"


def test_index_full_evicts_then_fails_when_all_pinned(small):
    from polyray.store import TableFullError

    n = 0
    while True:  # fill the index with empty objects (the table, not the bytes)
        small.put(oid(n), b"")
        n += 1
        if small.stats().evictions:
            break
    entries = n - 1  # the last put had to evict one to get an index entry
    assert entries >= 1024
    views = small.get([oid(i) for i in range(1, n)], timeout=0)
    assert all(v is not None for v in views)
    with pytest.raises(TableFullError) as ei:
        small.put(oid(n), b"")
    assert str(entries) in str(ei.value)
    del views
    small.put(oid(n), b"")
