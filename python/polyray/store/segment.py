"""Store: one process's handle on a node's shared-memory segment.

Invariants: every C call goes through the handle only while the Store is
open (a closed Store raises StoreClosedError); a view or builder it returns
holds the SegmentHandle, never the Store, so the segment stays mapped while
any of their buffers lives. Waits are cut into slices of ``_WAIT_SLICE_MS``
so that Ctrl-C and a concurrent close() are noticed.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable
from functools import partial
from typing import Any

from polyray.store.arguments import as_source, check_id, timeout_ms
from polyray.store.binding import (
    OBJECT_ID_SIZE,
    OK,
    TIMEOUT,
    ffi_buffer,
    ffi_gc,
    ffi_new,
    lib,
    prs_get,
    prs_py_put,
    prs_release,
)
from polyray.store.errors import (
    InvalidArgumentError,
    StoreClosedError,
    StoreMemoryError,
    StoreTimeoutError,
    error_for_status,
)
from polyray.store.handle import SegmentHandle, hold, unpin
from polyray.store.objects import ObjectBuilder, ObjectView
from polyray.store.records import ObjectInfo, ReclaimResult, StoreStats

# Long waits are cut into slices so that Ctrl-C (signal handlers run only
# between C calls) and a concurrent close() are noticed within this time.
_WAIT_SLICE_MS = 250


class Store:
    """A process's handle on the node's shared-memory object store.

    Thread-safe. Open one per process per segment; close it (or use it as a
    context manager) when done. Pins are counted per process: a process that
    dies keeps its pins until someone calls ``reclaim(pid)`` for it.
    """

    __slots__ = ("_name", "_handle", "__weakref__")

    def __init__(self, name: str, handle: SegmentHandle) -> None:
        """Internal: use ``Store.create`` or ``Store.open``."""
        self._name = name
        self._handle: SegmentHandle | None = handle

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
    def create(cls, name: str, capacity: int) -> Store:
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
                int(lib.PRS_ERR_NO_MEMORY))
        out = ffi_new("prs_store **")
        st = lib.prs_store_create(raw, capacity, out)
        if st:
            raise error_for_status(st)
        return cls(name, SegmentHandle(out[0]))

    @classmethod
    def open(cls, name: str) -> Store:
        """Map the existing segment ``name``.

        Raises SegmentNotFoundError if there is none, BadSegmentError if it is
        not a polyray store.
        """
        raw = cls._encode_name(name)
        out = ffi_new("prs_store **")
        st = lib.prs_store_open(raw, out)
        if st:
            raise error_for_status(st)
        return cls(name, SegmentHandle(out[0]))

    @staticmethod
    def unlink(name: str) -> None:
        """Remove segment ``name``; processes that mapped it keep their mapping."""
        st = lib.prs_store_unlink(Store._encode_name(name))
        if st:
            raise error_for_status(st)

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

    def __enter__(self) -> Store:
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
        object_id = check_id(object_id)
        for what, n in (("data_size", data_size), ("metadata_size", metadata_size)):
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise InvalidArgumentError(f"{what} must be an int >= 0, got {n!r}")
        out = ffi_new("uint8_t *[2]")
        st = lib.prs_create(h.ptr, object_id, data_size, metadata_size, out, out + 1)
        if st:
            raise error_for_status(st)
        # The buffers keep the handle (hence the mapping) alive, so a stray
        # reference can never write into unmapped memory.
        keep = partial(hold, h)
        data = memoryview(ffi_buffer(ffi_gc(out[0], keep), data_size)) if data_size else memoryview(bytearray())
        meta = (memoryview(ffi_buffer(ffi_gc(out[1], keep), metadata_size))
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
            object_id = check_id(object_id)
        src, n = as_source(data)
        if type(metadata) is bytes:
            msrc, mn = metadata, len(metadata)
        else:
            msrc, mn = as_source(metadata)
        st = prs_py_put(h.ptr, object_id, src, n, msrc, mn)
        if st:
            raise error_for_status(st)

    # -- reading -----------------------------------------------------------

    def get_one(self, object_id: bytes, timeout: float | None = None) -> ObjectView:
        """Pin and view one object, waiting up to ``timeout`` s until it is sealed.

        ``timeout`` None waits forever, 0 does not wait. Raises
        StoreTimeoutError if the object is not sealed in time.
        """
        h = self._handle
        if h is None:
            raise self._closed()
        if type(object_id) is not bytes or len(object_id) != OBJECT_ID_SIZE:
            object_id = check_id(object_id)
        v = ffi_new("prs_view *")
        # First try (usually the only one): the object is there, or comes
        # within the first wait slice.
        if timeout is None:
            st = prs_get(h.ptr, object_id, 1, _WAIT_SLICE_MS, v)
            if st == TIMEOUT:
                st = self._wait_one(h, object_id, None, v)
        elif timeout == 0:
            st = prs_get(h.ptr, object_id, 1, 0, v)
        else:
            ms = timeout_ms(timeout)
            if ms <= _WAIT_SLICE_MS:
                st = prs_get(h.ptr, object_id, 1, ms, v)
            else:
                st = self._wait_one(h, object_id, time.monotonic() + ms / 1000.0, v)
        if st:
            if st == TIMEOUT:
                raise StoreTimeoutError(
                    f"object {object_id.hex()} was not sealed within {timeout} s", st)
            raise error_for_status(st)
        return ObjectView(object_id, ffi_gc(v.data, partial(unpin, h, object_id)),
                          v.data_size, v.metadata, v.metadata_size)

    def _wait_one(self, h: SegmentHandle, object_id: bytes, deadline: float | None,
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
            st = prs_get(h.ptr, object_id, 1, step, v)
            if st != TIMEOUT or (deadline is not None and time.monotonic() >= deadline):
                return st

    def get(self, object_ids: Iterable[bytes],
            timeout: float | None = None) -> list[ObjectView | None]:
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
        ids = [check_id(i) for i in object_ids]
        n = len(ids)
        result: list[ObjectView | None] = [None] * n
        if n == 0:
            return result
        ms = timeout_ms(timeout)
        deadline = None if ms < 0 else time.monotonic() + ms / 1000.0
        pending = list(range(n))
        views = ffi_new("prs_view[]", n)
        slice_ms = _WAIT_SLICE_MS
        while True:
            step = ms if 0 <= ms <= slice_ms else slice_ms
            if deadline is not None and ms > slice_ms:
                step = min(step, max(0, int(math.ceil((deadline - time.monotonic()) * 1000))))
            st = prs_get(h.ptr, b"".join([ids[i] for i in pending]), len(pending),
                          step, views)
            if st != OK and st != TIMEOUT:
                raise error_for_status(st)  # views built so far unpin as they are dropped
            still = []
            for k, i in enumerate(pending):
                v = views[k]
                if v.found:
                    oid = ids[i]
                    result[i] = ObjectView(oid, ffi_gc(v.data, partial(unpin, h, oid)),
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
        st = prs_release(ptr, check_id(object_id))
        if st:
            raise error_for_status(st)

    # -- index -------------------------------------------------------------

    def contains(self, object_id: bytes) -> bool:
        """True when the object exists and is sealed."""
        ptr = self._ptr()
        out = ffi_new("int *")
        st = lib.prs_contains(ptr, check_id(object_id), out)
        if st:
            raise error_for_status(st)
        return bool(out[0])

    def delete(self, object_id: bytes) -> None:
        """Delete a sealed object now, or when its last pin is released.

        Raises ObjectNotFoundError, ObjectNotSealedError.
        """
        ptr = self._ptr()
        st = lib.prs_delete(ptr, check_id(object_id))
        if st:
            raise error_for_status(st)

    def list(self) -> list[ObjectInfo]:
        """Every object in the store (sealed or not), as ObjectInfo records."""
        ptr = self._ptr()
        cap = 64
        count = ffi_new("size_t *")
        while True:
            infos = ffi_new("prs_object_info[]", cap)
            st = lib.prs_list(ptr, infos, cap, count)
            if st:
                raise error_for_status(st)
            if count[0] <= cap:
                break
            cap = int(count[0]) + 16  # objects were added in between: retry
        return [
            ObjectInfo(
                object_id=bytes(ffi_buffer(i.id, OBJECT_ID_SIZE)),
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
        s = ffi_new("prs_stats *")
        st = lib.prs_get_stats(ptr, s)
        if st:
            raise error_for_status(st)
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
        freed = ffi_new("uint64_t *")
        st = lib.prs_evict(ptr, nbytes, freed)
        if st:
            raise error_for_status(st)
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
        out = ffi_new("prs_reclaim_result *")
        st = lib.prs_reclaim(ptr, pid, out)
        if st:
            raise error_for_status(st)
        return ReclaimResult(int(out.pins_dropped), int(out.objects_aborted),
                             int(out.bytes_freed))

    def prefault(self, offset: int, length: int) -> int:
        """Make the data region's pages [offset, offset + length) resident and
        mapped here (``prs_prefault``); never changes a byte, takes no lock.

        Returns the bytes covered (0 past the end). Runs in C with the GIL
        released. Raises StoreMemoryError when /dev/shm cannot supply them.
        """
        ptr = self._ptr()
        if offset < 0 or length < 0:
            raise InvalidArgumentError(f"prefault needs offset, length >= 0, got {offset}, {length}")
        done = ffi_new("uint64_t *")
        st = lib.prs_prefault(ptr, offset, length, done)
        if st:
            raise error_for_status(st)
        return int(done[0])

    def _test_hold_lock(self) -> None:
        """Test hook: take the store lock and keep it (then kill this process)."""
        st = lib.prs_test_hold_lock(self._ptr())
        if st:
            raise error_for_status(st)
