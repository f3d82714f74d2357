"""Python binding of the node's shared-memory object store (DESIGN §8).

The store is the C library in ``bridge/`` (header ``polyray_store.h``),
compiled into ``polyray._store_cffi`` by cffi. This module wraps it in a small
typed API::

    with Store.create("/polyray-node1", 1 << 30) as store:
        store.put(oid, numpy_array)
        with store.get_one(oid) as view:
            arr = numpy.frombuffer(view.data, dtype=numpy.float64)  # no copy

Lifetimes, which the C API leaves to its callers:

* A view pins its object. The pin is dropped exactly once, when the view and
  every buffer derived from it (memoryview slices, numpy arrays, pyarrow
  buffers) are gone; ``ObjectView.release()`` only gives up the view's own
  hold. Each pin is owned by a cffi ``ffi.gc`` pointer that the views'
  ``ffi.buffer`` objects keep alive, so the memory cannot be unpinned under a
  live array.
* Closing a ``Store`` makes the object unusable at once, but the segment stays
  mapped until the last view of it is gone, so a leftover array never reads
  unmapped memory.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Iterable, Optional

try:
    from polyray._store_cffi import ffi as _ffi  # noqa: F401
    from polyray._store_cffi import lib as _lib
except ImportError as _e:  # pragma: no cover - depends on the install
    raise ImportError(
        "polyray's shared-store extension (polyray._store_cffi) is not built: "
        "install the package with `pip install -e .` (or `make python`), which "
        f"compiles it from bridge/src ({_e})"
    ) from _e

from polyray.store_errors import (  # noqa: F401 - re-exported
    _ERRORS,
    BadSegmentError,
    InvalidArgumentError,
    InvalidObjectIdError,
    NotPinnedError,
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectNotSealedError,
    ObjectSealedError,
    SegmentNotFoundError,
    StoreClosedError,
    StoreError,
    StoreFullError,
    StoreMemoryError,
    StoreSystemError,
    StoreTimeoutError,
    TableFullError,
    _error,
)
from polyray.store_objects import (  # noqa: F401 - re-exported
    _ABORTED,
    _CREATED,
    _EMPTY_BYTES,
    _NULL,
    _OK,
    _SEALED,
    _TIMEOUT,
    OBJECT_ID_SIZE,
    ObjectBuilder,
    ObjectView,
    _as_source,
    _check_id,
    _empty,
    _ffi_buffer,
    _ffi_from_buffer,
    _ffi_gc,
    _ffi_new,
    _Handle,
    _hold,
    _prs_get,
    _prs_py_put,
    _prs_release,
    _timeout_ms,
    _unpin,
)

__all__ = [
    "OBJECT_ID_SIZE",
    "Store",
    "ObjectBuilder",
    "ObjectView",
    "ObjectInfo",
    "StoreStats",
    "ReclaimResult",
    "StoreError",
    "InvalidArgumentError",
    "InvalidObjectIdError",
    "ObjectNotFoundError",
    "ObjectExistsError",
    "ObjectSealedError",
    "ObjectNotSealedError",
    "StoreFullError",
    "StoreTimeoutError",
    "StoreClosedError",
    "SegmentNotFoundError",
    "StoreMemoryError",
    "TableFullError",
    "NotPinnedError",
    "BadSegmentError",
    "StoreSystemError",
]


# Long waits are cut into slices so that Ctrl-C (signal handlers run only
# between C calls) and a concurrent close() are noticed within this time.
_WAIT_SLICE_MS = 250


# --------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class ObjectInfo:
    """One object of the store's index (mirrors prs_object_info)."""

    object_id: bytes
    data_size: int
    metadata_size: int
    sealed: bool
    creator_pid: int
    pins: int
    delete_pending: bool


@dataclass(frozen=True)
class StoreStats:
    """Counters of the whole store (mirrors prs_stats)."""

    capacity: int
    bytes_used: int
    objects: int
    sealed_objects: int
    pinned_objects: int
    evictions: int
    recoveries: int


@dataclass(frozen=True)
class ReclaimResult:
    """What ``Store.reclaim`` freed for a dead process (mirrors prs_reclaim_result)."""

    pins_dropped: int
    objects_aborted: int
    bytes_freed: int


# --------------------------------------------------------------------------
# The store


class Store:
    """A process's handle on the node's shared-memory object store.

    Thread-safe. Open one per process per segment; close it (or use it as a
    context manager) when done. Pins are counted per process: a process that
    dies keeps its pins until someone calls ``reclaim(pid)`` for it.
    """

    __slots__ = ("_name", "_handle", "__weakref__")

    def __init__(self, name: str, handle: _Handle) -> None:
        """Internal: use ``Store.create`` or ``Store.open``."""
        self._name = name
        self._handle: Optional[_Handle] = handle

    # -- lifecycle ---------------------------------------------------------

    @staticmethod
    def _encode_name(name: Any) -> bytes:
        if not isinstance(name, str):
            raise InvalidArgumentError(
                f"segment name must be a str like '/polyray-node', got {type(name).__name__}")
        if "\0" in name:
            raise InvalidArgumentError(f"segment name {name!r} contains a NUL character")
        return name.encode("utf-8")

    @classmethod
    def create(cls, name: str, capacity: int) -> "Store":
        """Create segment ``name`` ("/polyray-...") with room for ``capacity`` bytes.

        Raises ObjectExistsError if it exists, StoreMemoryError if the capacity
        cannot be mapped, InvalidArgumentError for a bad name or capacity.
        """
        raw = cls._encode_name(name)
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity <= 0:
            raise InvalidArgumentError(f"capacity must be a positive int, got {capacity!r}")
        if capacity >= 1 << 64:
            raise StoreMemoryError(
                f"capacity {capacity} bytes cannot be mapped on this machine",
                int(_lib.PRS_ERR_NO_MEMORY))
        out = _ffi_new("prs_store **")
        st = _lib.prs_store_create(raw, capacity, out)
        if st:
            raise _error(st)
        return cls(name, _Handle(out[0]))

    @classmethod
    def open(cls, name: str) -> "Store":
        """Map the existing segment ``name``.

        Raises SegmentNotFoundError if there is none, BadSegmentError if it is
        not a polyray store.
        """
        raw = cls._encode_name(name)
        out = _ffi_new("prs_store **")
        st = _lib.prs_store_open(raw, out)
        if st:
            raise _error(st)
        return cls(name, _Handle(out[0]))

    @staticmethod
    def unlink(name: str) -> None:
        """Remove segment ``name``; processes that mapped it keep their mapping."""
        st = _lib.prs_store_unlink(Store._encode_name(name))
        if st:
            raise _error(st)

    @property
    def name(self) -> str:
        """The segment's name."""
        return self._name

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._handle is None

    def close(self, drop_pins: bool = False) -> None:
        """Close the handle (idempotent); later calls raise StoreClosedError.

        Pins held by live views are dropped as those views die; the segment
        is unmapped when the last of them is gone. With ``drop_pins``, any
        other pin this process holds is dropped at unmap time too; without
        it, such pins stay counted until the process is reclaimed.
        """
        h = self._handle
        if h is None:
            return
        self._handle = None
        h.drop_pins = 1 if drop_pins else 0
        del h  # unmaps now unless a view still holds the handle

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> tuple:
        # Another process gets its own mapping of the same segment.
        return (Store.open, (self._name,))

    def __repr__(self) -> str:
        return f"Store({self._name!r}{', closed' if self._handle is None else ''})"

    def _ptr(self) -> Any:
        h = self._handle
        if h is None:
            raise StoreClosedError(f"store {self._name!r} is closed")
        return h.ptr

    def _closed(self) -> StoreClosedError:
        return StoreClosedError(f"store {self._name!r} is closed")

    # -- writing -----------------------------------------------------------

    def create_object(self, object_id: bytes, data_size: int,
                      metadata_size: int = 0) -> ObjectBuilder:
        """Allocate an object and return a builder to fill in and seal.

        May evict unpinned sealed objects (least recently used first). Raises
        ObjectExistsError, StoreFullError, TableFullError.
        """
        h = self._handle
        if h is None:
            raise self._closed()
        object_id = _check_id(object_id)
        for what, n in (("data_size", data_size), ("metadata_size", metadata_size)):
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise InvalidArgumentError(f"{what} must be an int >= 0, got {n!r}")
        out = _ffi_new("uint8_t *[2]")
        st = _lib.prs_create(h.ptr, object_id, data_size, metadata_size, out, out + 1)
        if st:
            raise _error(st)
        # The buffers keep the handle (hence the mapping) alive, so a stray
        # reference can never write into unmapped memory.
        keep = partial(_hold, h)
        data = memoryview(_ffi_buffer(_ffi_gc(out[0], keep), data_size)) if data_size else memoryview(bytearray())
        meta = (memoryview(_ffi_buffer(_ffi_gc(out[1], keep), metadata_size))
                if metadata_size else memoryview(bytearray()))
        return ObjectBuilder(object_id, self, h, data, meta)

    def put(self, object_id: bytes, data: Any, metadata: Any = b"") -> None:
        """Create, copy ``data`` in (one copy), and seal, in one C call.

        ``data`` and ``metadata`` are any buffer-protocol objects (bytes,
        bytearray, memoryview, numpy array, ...). Raises ObjectExistsError,
        StoreFullError, TableFullError.
        """
        h = self._handle
        if h is None:
            raise self._closed()
        if type(object_id) is not bytes or len(object_id) != OBJECT_ID_SIZE:
            object_id = _check_id(object_id)
        src, n = _as_source(data)
        if type(metadata) is bytes:
            msrc, mn = metadata, len(metadata)
        else:
            msrc, mn = _as_source(metadata)
        st = _prs_py_put(h.ptr, object_id, src, n, msrc, mn)
        if st:
            raise _error(st)

    # -- reading -----------------------------------------------------------

    def get_one(self, object_id: bytes, timeout: Optional[float] = None) -> ObjectView:
        """Pin and view one object, waiting up to ``timeout`` s until it is sealed.

        ``timeout`` None waits forever, 0 does not wait. Raises
        StoreTimeoutError if the object is not sealed in time.
        """
        h = self._handle
        if h is None:
            raise self._closed()
        if type(object_id) is not bytes or len(object_id) != OBJECT_ID_SIZE:
            object_id = _check_id(object_id)
        v = _ffi_new("prs_view *")
        # First try (usually the only one): the object is there, or comes
        # within the first wait slice.
        if timeout is None:
            st = _prs_get(h.ptr, object_id, 1, _WAIT_SLICE_MS, v)
            if st == _TIMEOUT:
                st = self._wait_one(h, object_id, None, v)
        elif timeout == 0:
            st = _prs_get(h.ptr, object_id, 1, 0, v)
        else:
            ms = _timeout_ms(timeout)
            if ms <= _WAIT_SLICE_MS:
                st = _prs_get(h.ptr, object_id, 1, ms, v)
            else:
                st = self._wait_one(h, object_id, time.monotonic() + ms / 1000.0, v)
        if st:
            if st == _TIMEOUT:
                raise StoreTimeoutError(
                    f"object {object_id.hex()} was not sealed within {timeout} s", st)
            raise _error(st)
        return ObjectView(object_id, _ffi_gc(v.data, partial(_unpin, h, object_id)),
                          v.data_size, v.metadata, v.metadata_size)

    def _wait_one(self, h: _Handle, object_id: bytes, deadline: Optional[float],
                  v: Any) -> int:
        """prs_get of one object in wait slices until found or ``deadline``.

        With one object, "not sealed yet" leaves nothing pinned, so the call
        can simply be repeated.
        """
        while True:
            if self._handle is None:
                raise self._closed()
            step = _WAIT_SLICE_MS
            if deadline is not None:
                step = min(step, max(0, math.ceil((deadline - time.monotonic()) * 1000)))
            st = _prs_get(h.ptr, object_id, 1, step, v)
            if st != _TIMEOUT or (deadline is not None and time.monotonic() >= deadline):
                return st

    def get(self, object_ids: Iterable[bytes],
            timeout: Optional[float] = None) -> list[Optional[ObjectView]]:
        """Pin and view several objects, waiting up to ``timeout`` s for them.

        Returns one entry per id, in order: a view, or None for an object not
        sealed within the timeout (None waits forever, 0 does not wait). Each
        view holds its own pin, even for repeated ids.
        """
        h = self._handle
        if h is None:
            raise self._closed()
        if isinstance(object_ids, (bytes, bytearray, memoryview)):
            raise InvalidArgumentError(
                "get() takes a list of object ids; use get_one() for a single id")
        ids = [_check_id(i) for i in object_ids]
        n = len(ids)
        result: list[Optional[ObjectView]] = [None] * n
        if n == 0:
            return result
        ms = _timeout_ms(timeout)
        deadline = None if ms < 0 else time.monotonic() + ms / 1000.0
        pending = list(range(n))
        views = _ffi_new("prs_view[]", n)
        slice_ms = _WAIT_SLICE_MS
        while True:
            step = ms if 0 <= ms <= slice_ms else slice_ms
            if deadline is not None and ms > slice_ms:
                step = min(step, max(0, int(math.ceil((deadline - time.monotonic()) * 1000))))
            st = _prs_get(h.ptr, b"".join([ids[i] for i in pending]), len(pending),
                          step, views)
            if st != _OK and st != _TIMEOUT:
                raise _error(st)  # views built so far unpin as they are dropped
            still = []
            for k, i in enumerate(pending):
                v = views[k]
                if v.found:
                    oid = ids[i]
                    result[i] = ObjectView(oid, _ffi_gc(v.data, partial(_unpin, h, oid)),
                                           v.data_size, v.metadata, v.metadata_size)
                else:
                    still.append(i)
            pending = still
            if not pending or 0 <= ms <= slice_ms:
                return result
            if deadline is not None and time.monotonic() >= deadline:
                return result
            if self._handle is None:
                raise self._closed()

    def release(self, object_id: bytes) -> None:
        """Drop one pin this process holds on ``object_id``, now (low level).

        Views drop their own pins (``ObjectView.release`` and garbage
        collection); do not call this for a pin a live view owns, or the view
        would read unpinned memory. It is for pins taken outside this module
        under this process's pid (e.g. by C++ code loaded in the process).
        Raises ObjectNotFoundError, NotPinnedError.
        """
        ptr = self._ptr()
        st = _prs_release(ptr, _check_id(object_id))
        if st:
            raise _error(st)

    # -- index -------------------------------------------------------------

    def contains(self, object_id: bytes) -> bool:
        """True when the object exists and is sealed."""
        ptr = self._ptr()
        out = _ffi_new("int *")
        st = _lib.prs_contains(ptr, _check_id(object_id), out)
        if st:
            raise _error(st)
        return bool(out[0])

    def delete(self, object_id: bytes) -> None:
        """Delete a sealed object now, or when its last pin is released.

        Raises ObjectNotFoundError, ObjectNotSealedError.
        """
        ptr = self._ptr()
        st = _lib.prs_delete(ptr, _check_id(object_id))
        if st:
            raise _error(st)

    def list(self) -> list[ObjectInfo]:
        """Every object in the store (sealed or not), as ObjectInfo records."""
        ptr = self._ptr()
        cap = 64
        count = _ffi_new("size_t *")
        while True:
            infos = _ffi_new("prs_object_info[]", cap)
            st = _lib.prs_list(ptr, infos, cap, count)
            if st:
                raise _error(st)
            if count[0] <= cap:
                break
            cap = int(count[0]) + 16  # objects were added in between: retry
        return [
            ObjectInfo(
                object_id=bytes(_ffi_buffer(i.id, OBJECT_ID_SIZE)),
                data_size=int(i.data_size),
                metadata_size=int(i.metadata_size),
                sealed=bool(i.sealed),
                creator_pid=int(i.creator_pid),
                pins=int(i.pins),
                delete_pending=bool(i.delete_pending),
            )
            for i in (infos[k] for k in range(int(count[0])))
        ]

    def stats(self) -> StoreStats:
        """The store's counters (capacity, bytes used, objects, pins, ...)."""
        ptr = self._ptr()
        s = _ffi_new("prs_stats *")
        st = _lib.prs_get_stats(ptr, s)
        if st:
            raise _error(st)
        return StoreStats(
            capacity=int(s.capacity),
            bytes_used=int(s.bytes_used),
            objects=int(s.objects),
            sealed_objects=int(s.sealed_objects),
            pinned_objects=int(s.pinned_objects),
            evictions=int(s.evictions),
            recoveries=int(s.recoveries),
        )

    def evict(self, nbytes: int) -> int:
        """Free at least ``nbytes`` by deleting LRU unpinned sealed objects.

        Returns the bytes actually freed (may be less when too much is pinned).
        """
        ptr = self._ptr()
        if not isinstance(nbytes, int) or nbytes < 0:
            raise InvalidArgumentError(f"nbytes must be an int >= 0, got {nbytes!r}")
        freed = _ffi_new("uint64_t *")
        st = _lib.prs_evict(ptr, nbytes, freed)
        if st:
            raise _error(st)
        return int(freed[0])

    def reclaim(self, pid: int) -> ReclaimResult:
        """Drop every pin of dead process ``pid`` and abort its unsealed objects."""
        ptr = self._ptr()
        if not isinstance(pid, int) or not 0 < pid < 1 << 31:
            raise InvalidArgumentError(f"pid must be a positive int32, got {pid!r}")
        if pid == os.getpid():
            # It would unpin memory this process's own views still read.
            raise InvalidArgumentError(
                f"reclaim of this process's own pid {pid}: reclaim is for dead processes")
        out = _ffi_new("prs_reclaim_result *")
        st = _lib.prs_reclaim(ptr, pid, out)
        if st:
            raise _error(st)
        return ReclaimResult(int(out.pins_dropped), int(out.objects_aborted),
                             int(out.bytes_freed))

    def _test_hold_lock(self) -> None:
        """Test hook: take the store lock and keep it (then kill this process)."""
        st = _lib.prs_test_hold_lock(self._ptr())
        if st:
            raise _error(st)
