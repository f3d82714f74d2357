"""The shared-store binding in one process: round trips, records, bad input."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from store_util import oid, payload

from polyray import exceptions as pexc
from polyray.store import (
    OBJECT_ID_SIZE,
    BadSegmentError,
    InvalidArgumentError,
    InvalidObjectIdError,
    NotPinnedError,
    ObjectExistsError,
    ObjectInfo,
    ObjectNotFoundError,
    ObjectNotSealedError,
    ObjectSealedError,
    ObjectView,
    ReclaimResult,
    SegmentNotFoundError,
    Store,
    StoreClosedError,
    StoreError,
    StoreMemoryError,
    StoreStats,
    StoreTimeoutError,
)

# -- round trips -------------------------------------------------------------


def test_put_get_round_trip(store):
    store.put(oid(1), b"hello", metadata=b"meta")
    view = store.get_one(oid(1))
    assert isinstance(view, ObjectView)
    assert view.object_id == oid(1)
    assert bytes(view.data) == b"hello"
    assert bytes(view.metadata) == b"meta"
    assert (view.data_size, view.metadata_size) == (5, 4)
    view.release()
    view.release()  # idempotent
    assert view.released


def test_put_buffer_types(store):
    arr = np.arange(1000, dtype=np.float64)
    store.put(oid(1), arr)
    store.put(oid(2), bytearray(b"ba"), metadata=memoryview(b"mv"))
    store.put(oid(3), arr[::2])  # strided: gathered before the copy
    store.put(oid(4), b"")
    with store.get_one(oid(1)) as v:
        np.testing.assert_array_equal(np.frombuffer(v.data, np.float64), arr)
    with store.get_one(oid(2)) as v:
        assert (bytes(v.data), bytes(v.metadata)) == (b"ba", b"mv")
    with store.get_one(oid(3)) as v:
        np.testing.assert_array_equal(np.frombuffer(v.data, np.float64), arr[::2])
    with store.get_one(oid(4)) as v:
        assert bytes(v.data) == b"" and bytes(v.metadata) == b""


def test_builder_writes_in_place(store):
    b = store.create_object(oid(1), 10, 3)
    assert not store.contains(oid(1))  # invisible until sealed
    assert store.get([oid(1)], timeout=0) == [None]
    b.data[:] = b"0123456789"
    b.metadata[:] = b"abc"
    np.frombuffer(b.data, np.uint8)[0] = ord("X")  # numpy writes through too
    b.seal()
    assert store.contains(oid(1))
    with store.get_one(oid(1)) as v:
        assert bytes(v.data) == b"X123456789"
        assert bytes(v.metadata) == b"abc"


def test_builder_context_manager_seals_or_aborts(store):
    with store.create_object(oid(1), 3) as b:
        b.data[:] = b"abc"
    assert store.contains(oid(1))
    with pytest.raises(RuntimeError):
        with store.create_object(oid(2), 3):
            raise RuntimeError("boom")
    assert oid(2) not in {i.object_id for i in store.list()}
    store.put(oid(2), b"again")  # the aborted id is free again


def test_abort_and_dropped_builder_free_memory(store):
    used = store.stats().bytes_used
    b = store.create_object(oid(1), 1 << 20)
    assert store.stats().bytes_used >= used + (1 << 20)
    b.abort()
    assert store.stats().bytes_used == used
    store.create_object(oid(2), 1 << 20)  # dropped at once: aborted by __del__
    assert store.stats().bytes_used == used
    assert store.stats().objects == 0


def test_get_many_in_order_with_missing(store):
    for i in range(5):
        store.put(oid(i), payload(oid(i), 100 * i))
    ids = [oid(3), oid(99), oid(0), oid(3)]
    views = store.get(ids, timeout=0)
    assert views[1] is None
    for v, i in zip((views[0], views[2], views[3]), (3, 0, 3)):
        assert bytes(v.data) == payload(oid(i), 100 * i)
    info = {i.object_id: i for i in store.list()}
    assert info[oid(3)].pins == 2  # a pin per view, also for a repeated id
    del views, v
    assert {i.object_id: i.pins for i in store.list()}[oid(3)] == 0
    assert store.get([], timeout=0) == []


def test_get_timeout(store):
    t0 = time.monotonic()
    with pytest.raises(StoreTimeoutError) as ei:
        store.get_one(oid(7), timeout=0.2)
    assert 0.15 <= time.monotonic() - t0 < 2
    assert oid(7).hex() in str(ei.value)
    assert isinstance(ei.value, pexc.GetTimeoutError)
    assert isinstance(ei.value, TimeoutError)
    t0 = time.monotonic()
    assert store.get([oid(7)], timeout=0.3) == [None]
    assert 0.25 <= time.monotonic() - t0 < 2
    with pytest.raises(StoreTimeoutError):
        store.get_one(oid(7), timeout=0)


def test_get_waits_for_a_seal_in_another_thread(store):
    b = store.create_object(oid(1), 4)
    b.data[:] = b"late"
    timer = threading.Timer(0.3, b.seal)
    timer.start()
    try:
        views = store.get([oid(1)], timeout=None)  # forever: several wait slices
        assert bytes(views[0].data) == b"late"
    finally:
        timer.join()


def test_close_wakes_a_waiting_get(store_name):
    s = Store.create(store_name, 1 << 20)
    errors = []

    def wait():
        try:
            s.get_one(oid(1))  # forever
        except StoreClosedError as e:
            errors.append(e)

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.1)
    s.close()
    t.join(5)
    assert not t.is_alive() and len(errors) == 1


def test_contains_delete_list_stats(store):
    store.put(oid(1), b"x" * 100, metadata=b"mm")
    store.create_object(oid(2), 50)  # kept alive below: unsealed
    keep = store.create_object(oid(3), 60)
    s = store.stats()
    assert isinstance(s, StoreStats)
    assert s.capacity >= 16 << 20 and s.objects == 2 and s.sealed_objects == 1
    assert s.bytes_used >= 160
    infos = {i.object_id: i for i in store.list()}
    assert set(infos) == {oid(1), oid(3)}
    i1 = infos[oid(1)]
    assert isinstance(i1, ObjectInfo)
    assert (i1.data_size, i1.metadata_size, i1.sealed, i1.pins) == (100, 2, True, 0)
    assert infos[oid(3)].sealed is False
    import os

    assert i1.creator_pid == os.getpid()
    with pytest.raises(ObjectNotSealedError):
        store.delete(oid(3))
    view = store.get_one(oid(1))
    store.delete(oid(1))  # pinned: deferred
    assert {i.object_id: i for i in store.list()}[oid(1)].delete_pending
    assert bytes(view.data) == b"x" * 100  # still readable while pinned
    view.release()
    assert not store.contains(oid(1))
    assert oid(1) not in {i.object_id for i in store.list()}
    keep.abort()
    assert store.stats().objects == 0


def test_list_many(store):
    for i in range(300):  # more than the first list() buffer
        store.put(oid(i), b"")
    assert sorted(i.object_id for i in store.list()) == sorted(oid(i) for i in range(300))


def test_store_open_sees_same_objects(store, store_name):
    store.put(oid(1), b"shared")
    with Store.open(store_name) as other:
        assert other.name == store_name
        with other.get_one(oid(1)) as v:
            assert bytes(v.data) == b"shared"
        other.put(oid(2), b"back")
    with store.get_one(oid(2)) as v:
        assert bytes(v.data) == b"back"
    import pickle

    with pickle.loads(pickle.dumps(store)) as third:  # another mapping of it
        assert third.name == store_name and third.contains(oid(2))


def test_threads_share_a_store(store):
    errors = []

    def run(t):
        try:
            for i in range(300):
                k = oid(i, b"th%d" % t)
                store.put(k, payload(k, i))
                with store.get_one(k) as v:
                    assert bytes(v.data) == payload(k, i)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.stats().sealed_objects == 1200
    assert store.stats().pinned_objects == 0


def test_reclaim_of_a_process_with_nothing(store):
    r = store.reclaim(2**31 - 1)
    assert r == ReclaimResult(0, 0, 0)


# -- bad input: each a specific error naming what was wrong --------------------


def test_unknown_id(store):
    with pytest.raises(ObjectNotFoundError) as ei:
        store.release(oid(5))
    assert isinstance(ei.value, KeyError)
    assert oid(5).hex() in str(ei.value)
    with pytest.raises(ObjectNotFoundError):
        store.delete(oid(5))
    assert store.contains(oid(5)) is False
    with pytest.raises(StoreTimeoutError):
        store.get_one(oid(5), timeout=0)


@pytest.mark.parametrize("bad", [b"", b"short", b"x" * (OBJECT_ID_SIZE + 1)])
def test_wrong_id_length(store, bad):
    calls = [
        lambda: store.put(bad, b"x"),
        lambda: store.create_object(bad, 1),
        lambda: store.get_one(bad, timeout=0),
        lambda: store.get([oid(1), bad], timeout=0),
        lambda: store.contains(bad),
        lambda: store.delete(bad),
        lambda: store.release(bad),
    ]
    for call in calls:
        with pytest.raises(InvalidObjectIdError) as ei:
            call()
        msg = str(ei.value)
        assert str(OBJECT_ID_SIZE) in msg and f"got {len(bad)}" in msg, msg
        assert isinstance(ei.value, ValueError)


def test_id_of_wrong_type(store):
    with pytest.raises(InvalidObjectIdError, match="str"):
        store.put("x" * OBJECT_ID_SIZE, b"x")
    store.put(bytearray(oid(1)), b"bytes-like ids are fine")
    assert store.contains(memoryview(oid(1)))


def test_duplicate_id(store):
    store.put(oid(1), b"a")
    with pytest.raises(ObjectExistsError) as ei:
        store.put(oid(1), b"b")
    assert oid(1).hex() in str(ei.value)
    with pytest.raises(ObjectExistsError):
        store.create_object(oid(1), 1)


def test_double_seal_and_abort_after_seal(store):
    b = store.create_object(oid(1), 1)
    b.seal()
    with pytest.raises(ObjectSealedError, match="already sealed"):
        b.seal()
    with pytest.raises(ObjectSealedError, match="cannot be aborted"):
        b.abort()
    b2 = store.create_object(oid(2), 1)
    b2.abort()
    with pytest.raises(ObjectNotFoundError, match="aborted"):
        b2.seal()


def test_c_library_rejects_double_seal(store):
    # The same checks one level down, without the binding's own guard.
    from polyray._store_cffi import lib

    store.put(oid(1), b"x")
    ptr = store._handle.ptr
    assert lib.prs_seal(ptr, oid(1)) == lib.PRS_ERR_SEALED
    assert lib.prs_abort(ptr, oid(1)) == lib.PRS_ERR_SEALED
    assert lib.prs_seal(ptr, oid(2)) == lib.PRS_ERR_NOT_FOUND


def test_writing_after_seal(store):
    b = store.create_object(oid(1), 4)
    early = b.data
    b.data[:] = b"abcd"
    b.seal()
    with pytest.raises(ObjectSealedError, match="sealed"):
        b.data
    with pytest.raises(ObjectSealedError):
        b.metadata
    with pytest.raises(ValueError):  # memoryviews taken before seal are released
        early[0] = 1
    with store.get_one(oid(1)) as v:
        assert bytes(v.data) == b"abcd"
        with pytest.raises(TypeError):
            v.data[0] = 1  # views are read-only


def test_release_without_pin(store):
    store.put(oid(1), b"x")
    with pytest.raises(NotPinnedError):
        store.release(oid(1))
    v = store.get_one(oid(1))
    v.release()
    with pytest.raises(NotPinnedError, match="released"):
        v.data


def test_bad_arguments(store, store_name):
    with pytest.raises(InvalidArgumentError, match="data_size"):
        store.create_object(oid(1), -1)
    with pytest.raises(InvalidArgumentError, match="buffer protocol"):
        store.put(oid(1), 12345)
    with pytest.raises(InvalidArgumentError, match="timeout"):
        store.get_one(oid(1), timeout=-1)
    with pytest.raises(InvalidArgumentError, match="pid"):
        store.reclaim(0)
    with pytest.raises(InvalidArgumentError, match="own pid"):
        store.reclaim(os.getpid())
    with pytest.raises(InvalidArgumentError, match="capacity"):
        Store.create(store_name + "-x", 0)
    with pytest.raises(InvalidArgumentError):
        Store.create("no-leading-slash", 1 << 20)
    with pytest.raises(InvalidArgumentError):
        Store.open("/two/slashes")
    with pytest.raises(InvalidArgumentError, match="str"):
        Store.open(None)
    with pytest.raises(InvalidArgumentError, match="NUL"):
        Store.open("/a\0b")
    with pytest.raises(InvalidArgumentError, match="get_one"):
        store.get(oid(1))


def test_use_after_close(store_name):
    s = Store.create(store_name, 1 << 20)
    s.put(oid(1), b"x")
    b = s.create_object(oid(2), 1)
    s.close()
    s.close()  # idempotent
    assert s.closed
    calls = [
        lambda: s.put(oid(3), b"x"),
        lambda: s.create_object(oid(3), 1),
        lambda: s.get_one(oid(1)),
        lambda: s.get([oid(1)]),
        lambda: s.contains(oid(1)),
        lambda: s.delete(oid(1)),
        lambda: s.release(oid(1)),
        lambda: s.list(),
        lambda: s.stats(),
        lambda: s.evict(1),
        lambda: s.reclaim(1),
        lambda: s._test_hold_lock(),
        lambda: b.seal(),
    ]
    for call in calls:
        with pytest.raises(StoreClosedError, match="closed"):
            call()


def test_view_outlives_store_close(store_name):
    s = Store.create(store_name, 1 << 20)
    s.put(oid(1), b"still mapped")
    view = s.get_one(oid(1))
    arr = np.frombuffer(view.data, np.uint8)
    s.close()  # the mapping stays until the last view is gone
    assert arr.tobytes() == b"still mapped"
    del view, arr
    with Store.open(store_name) as s2:
        assert s2.stats().pinned_objects == 0


def test_open_missing_segment(store_name):
    with pytest.raises(SegmentNotFoundError) as ei:
        Store.open(store_name)
    assert isinstance(ei.value, FileNotFoundError)
    assert store_name in str(ei.value)
    with pytest.raises(SegmentNotFoundError):
        Store.unlink(store_name)


def test_create_existing_segment(store, store_name):
    with pytest.raises(ObjectExistsError) as ei:
        Store.create(store_name, 1 << 20)
    assert store_name in str(ei.value)


def test_capacity_too_large(store_name):
    with pytest.raises(StoreMemoryError) as ei:
        Store.create(store_name, 1 << 60)
    assert isinstance(ei.value, MemoryError)
    assert str(1 << 60) in str(ei.value) or "1152921504606846976" in str(ei.value)
    with pytest.raises(StoreMemoryError):
        Store.create(store_name, 1 << 64)
    with pytest.raises(SegmentNotFoundError):  # nothing left behind
        Store.open(store_name)


def test_open_a_segment_that_is_not_a_store(store_name):
    import os

    path = "/dev/shm" + store_name
    with open(path, "wb") as f:
        f.write(b"\0" * 8192)
    try:
        with pytest.raises(BadSegmentError) as ei:
            Store.open(store_name)
        assert store_name in str(ei.value)
    finally:
        os.unlink(path)


def test_error_hierarchy():
    from polyray.store import StoreFullError

    assert issubclass(StoreError, pexc.PolyrayError)
    assert issubclass(StoreFullError, pexc.ObjectStoreFullError)
    e = ObjectNotFoundError("no object 00ff", 3)
    assert str(e) == "no object 00ff" and e.status == 3
    assert SegmentNotFoundError("x").status == 10
