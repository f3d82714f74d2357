"""Objects: put/get of values, zero-copy numpy through the shared store, store freed when refs drop."""

from __future__ import annotations

import gc
import time

import numpy as np
import pytest
from core_util import wait_until

import polyray
from polyray import ObjectRef
from polyray.store import Store

pytestmark = pytest.mark.usefixtures("cluster")

T = 60
BIG = 200 * 1024 * 1024  # bytes of the large array
MID = 20 * 1024 * 1024   # bytes of a "large" (store-backed) but quicker array


def _store_name() -> str:
    return polyray.nodes()[0]["ObjectStoreName"]


def _shm_ranges(store_name: str, pid: str = "self") -> list[tuple[int, int]]:
    """Address ranges where this process maps the store's /dev/shm segment."""
    out = []
    suffix = "/dev/shm/" + store_name.lstrip("/")
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5] == suffix:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                out.append((lo, hi))
    return out


def _in_shm(arr: np.ndarray, store_name: str) -> bool:
    addr = arr.__array_interface__["data"][0]
    return any(lo <= addr and addr + arr.nbytes <= hi for lo, hi in _shm_ranges(store_name))


@pytest.fixture(scope="module")
def store(cluster):
    s = Store.open(_store_name())
    yield s
    s.close()


def _wait_store_empty(store: Store, timeout: float = 10.0) -> None:
    gc.collect()
    ok = wait_until(lambda: store.stats().objects == 0 and store.stats().bytes_used == 0, timeout, 0.05)
    st = store.stats()
    assert ok, (f"store not back to empty {timeout} s after every reference was dropped: "
                f"{st.objects} objects, {st.bytes_used} bytes used ({st.pinned_objects} pinned); "
                f"{[(i.object_id.hex()[:16], i.data_size, i.pins, i.delete_pending) for i in store.list()]}")


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


VALUES = [
    None,
    True,
    0,
    -(2 ** 63),
    2 ** 100,
    3.25,
    float("inf"),
    "",
    "héllo wörld",
    b"",
    b"\x00\xffbytes",
    bytearray(b"mutable"),
    [],
    [1, "two", 3.0, None],
    (),
    (1, 2),
    ("nested", (1, (2, 3)), [4, (5,)]),
    {},
    {"a": 1, "b": [1, 2], "c": {"d": (1, 2)}},
    {1: "int key", (1, 2): "tuple key"},
    {1, 2, 3},
    frozenset({"x"}),
    complex(1, 2),
    Point(1, 2),
    b"x" * (200 * 1024),  # larger than the inline limit: through the store
    list(range(50_000)),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_put_get_roundtrip_keeps_type(value):
    ref = polyray.put(value)
    assert isinstance(ref, ObjectRef)
    got = polyray.get(ref, timeout=T)
    assert type(got) is type(value)
    if isinstance(value, float) and value != value:
        assert got != got
    else:
        assert got == value


@polyray.remote
def identity(x):
    return x


@pytest.mark.parametrize("value", [(1, 2), ("a", (1, [2])), {"k": (1,)}, b"raw", None, {3, 4}],
                         ids=["tuple", "nested-tuple", "dict", "bytes", "none", "set"])
def test_task_roundtrip_keeps_type(value):
    got = polyray.get(identity.remote(value), timeout=T)
    assert type(got) is type(value)
    assert got == value


@pytest.mark.parametrize("dtype", ["float64", "int32", "uint8", "bool", "complex64"])
def test_numpy_arrays_small_and_strided(dtype):
    a = (np.arange(24) % 7).astype(dtype).reshape(2, 3, 4)
    for value in (a, a[:, ::2, 1:], np.asfortranarray(a), a[0]):
        got = polyray.get(polyray.put(value), timeout=T)
        assert isinstance(got, np.ndarray)
        assert got.dtype == value.dtype and got.shape == value.shape
        np.testing.assert_array_equal(got, value)
        got2 = polyray.get(identity.remote(value), timeout=T)
        np.testing.assert_array_equal(got2, value)


def test_numpy_structured_and_object_free_values():
    rec = np.zeros(3, dtype=[("a", "i4"), ("b", "f8")])
    rec["a"] = [1, 2, 3]
    got = polyray.get(polyray.put(rec), timeout=T)
    assert got.dtype == rec.dtype
    np.testing.assert_array_equal(got, rec)
    mixed = {"arr": np.ones(5), "t": (np.int64(3), np.float32(1.5))}
    got = polyray.get(polyray.put(mixed), timeout=T)
    np.testing.assert_array_equal(got["arr"], np.ones(5))
    assert isinstance(got["t"], tuple) and got["t"][0] == 3 and got["t"][1] == np.float32(1.5)


def test_put_of_object_ref_is_rejected():
    ref = polyray.put(1)
    with pytest.raises(TypeError):
        polyray.put(ref)


def test_get_list_preserves_order():
    refs = [polyray.put(i) for i in range(100)]
    assert polyray.get(refs, timeout=T) == list(range(100))
    assert polyray.get(tuple(refs[:3]), timeout=T) == [0, 1, 2]
    assert polyray.get([], timeout=T) == []


def test_200mb_put_get_zero_copy(store):
    name = _store_name()
    arr = np.arange(BIG // 8, dtype=np.float64)
    ref = polyray.put(arr)
    expected_sum = float(arr.sum())
    del arr
    a = polyray.get(ref, timeout=T)
    b = polyray.get(ref, timeout=T)
    assert a.shape == (BIG // 8,) and a.dtype == np.float64
    assert not a.flags.writeable, "an array read from the shared store must be read-only"
    with pytest.raises(ValueError):
        a[0] = 1.0
    # both gets are views of the same shared memory: no copy was made
    assert a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    assert np.shares_memory(a, b)
    assert _in_shm(a, name), "the array's data does not lie in the store's shared-memory mapping"
    assert float(a[-1]) == BIG // 8 - 1
    assert float(a.sum()) == expected_sum
    del a, b, ref
    _wait_store_empty(store)


@polyray.remote
def inspect_array(arr, store_name):
    """Where the task sees its array argument: read-only, inside the store mapping, its checksum."""
    addr = arr.__array_interface__["data"][0]
    inside = False
    suffix = "/dev/shm/" + store_name.lstrip("/")
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5] == suffix:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                inside = inside or (lo <= addr and addr + arr.nbytes <= hi)
    return {"writeable": bool(arr.flags.writeable), "in_shm": inside, "nbytes": int(arr.nbytes),
            "last": float(arr[-1]), "sum": float(arr.sum())}


def test_200mb_array_as_task_argument_zero_copy(store):
    name = _store_name()
    arr = np.arange(BIG // 8, dtype=np.float64)
    expected = float(arr.sum())
    # passed by value: the caller puts it into the store and passes a reference
    info = polyray.get(inspect_array.remote(arr, name), timeout=T)
    assert info == {"writeable": False, "in_shm": True, "nbytes": BIG, "last": float(BIG // 8 - 1),
                    "sum": expected}
    del arr
    _wait_store_empty(store)
    # passed as an ObjectRef from put
    ref = polyray.put(np.ones(BIG // 8, dtype=np.float64))
    info = polyray.get(inspect_array.remote(ref, name), timeout=T)
    assert info["in_shm"] and not info["writeable"] and info["sum"] == BIG // 8
    del ref
    _wait_store_empty(store)


@polyray.remote
def make_array(n, fill):
    return np.full(n, fill, dtype=np.float64)


def test_large_task_return_zero_copy(store):
    name = _store_name()
    ref = make_array.remote(MID // 8, 2.0)
    a = polyray.get(ref, timeout=T)
    b = polyray.get(ref, timeout=T)
    assert a.shape == (MID // 8,) and float(a.sum()) == 2.0 * (MID // 8)
    assert not a.flags.writeable
    assert a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    assert _in_shm(a, name)
    del a, b, ref
    _wait_store_empty(store)


def test_store_freed_after_puts(store):
    _wait_store_empty(store)
    refs = [polyray.put(np.full(MID // 8, i, dtype=np.float64)) for i in range(3)]
    st = store.stats()
    assert st.objects >= 3 and st.bytes_used >= 3 * MID
    views = polyray.get(refs, timeout=T)
    assert [float(v[0]) for v in views] == [0.0, 1.0, 2.0]
    del refs
    gc.collect()
    # a value still read by the driver is not freed under its feet
    assert [float(v[-1]) for v in views] == [0.0, 1.0, 2.0]
    del views
    _wait_store_empty(store)


def test_store_freed_after_large_task_returns(store):
    _wait_store_empty(store)
    refs = [make_array.remote(MID // 8, float(i)) for i in range(3)]
    assert [float(polyray.get(r, timeout=T)[0]) for r in refs] == [0.0, 1.0, 2.0]
    assert store.stats().objects >= 3
    del refs
    _wait_store_empty(store)


def test_store_freed_for_returns_never_fetched(store):
    _wait_store_empty(store)
    refs = [make_array.remote(MID // 8, 1.0) for _ in range(2)]
    polyray.wait(refs, num_returns=2, timeout=T)
    del refs
    _wait_store_empty(store)


@polyray.remote
def checksum(arr):
    return float(arr.sum())


def test_store_freed_after_large_task_arguments(store):
    _wait_store_empty(store)
    arr = np.ones(MID // 8, dtype=np.float64)
    results = polyray.get([checksum.remote(arr) for _ in range(3)], timeout=T)
    assert results == [float(MID // 8)] * 3
    del arr
    _wait_store_empty(store)
    # and an argument that is a put ObjectRef, used by several tasks, freed after them all
    ref = polyray.put(np.ones(MID // 8, dtype=np.float64))
    out = [checksum.remote(ref) for _ in range(4)]
    del ref
    assert polyray.get(out, timeout=T) == [float(MID // 8)] * 4
    del out
    _wait_store_empty(store)


@polyray.remote
def passthrough_ref(container):
    # return a large value fetched from a nested ref, as a new large return
    return polyray.get(container[0], timeout=30) + 1


def test_store_freed_with_nested_refs(store):
    _wait_store_empty(store)
    inner = polyray.put(np.zeros(MID // 8, dtype=np.float64))
    out = passthrough_ref.remote([inner])
    del inner
    a = polyray.get(out, timeout=T)
    assert float(a.sum()) == MID // 8
    del a, out
    _wait_store_empty(store)


def test_large_value_lifetime_across_time(store):
    # a ref kept alive keeps its value readable even after other frees
    keep = polyray.put(np.full(MID // 8, 7.0))
    tmp = [polyray.put(np.zeros(MID // 8)) for _ in range(2)]
    del tmp
    gc.collect()
    time.sleep(0.3)
    assert float(polyray.get(keep, timeout=T)[0]) == 7.0
    del keep
    _wait_store_empty(store)
