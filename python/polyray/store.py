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

from polyray import exceptions as _exc

try:
    from polyray._store_cffi import ffi as _ffi
    from polyray._store_cffi import lib as _lib
except ImportError as _e:  # pragma: no cover - depends on the install
    raise ImportError(
        "polyray's shared-store extension (polyray._store_cffi) is not built: "
        "install the package with `pip install -e .` (or `make python`), which "
        f"compiles it from bridge/src ({_e})"
    ) from _e

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

OBJECT_ID_SIZE: int = int(_lib.PRS_OBJECT_ID_SIZE)
"""Length in bytes of an object id (the protocol's ObjectID)."""

# Module-level aliases: the hot path skips the attribute lookups on `lib`.
_OK = _lib.PRS_OK
_TIMEOUT = _lib.PRS_ERR_TIMEOUT
_prs_get = _lib.prs_get
_prs_release = _lib.prs_release
_prs_py_put = _lib.prs_py_put
_ffi_new = _ffi.new
_ffi_gc = _ffi.gc
_ffi_buffer = _ffi.buffer
_ffi_from_buffer = _ffi.from_buffer
_NULL = _ffi.NULL

# Long waits are cut into slices so that Ctrl-C (signal handlers run only
# between C calls) and a concurrent close() are noticed within this time.
_WAIT_SLICE_MS = 250


# --------------------------------------------------------------------------
# Errors


class StoreError(_exc.PolyrayError):
    """A shared-store call failed; ``status`` is the C library's prs_status."""

    status: int = -1

    def __init__(self, message: str = "", status: Optional[int] = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        # KeyError and OSError would otherwise quote or decorate the message.
        return str(self.args[0]) if self.args else ""


class InvalidArgumentError(StoreError, ValueError):
    """A bad argument: wrong type, empty name, negative size or timeout, ..."""

    status = int(_lib.PRS_ERR_INVALID)


class InvalidObjectIdError(StoreError, ValueError):
    """An object id that is not OBJECT_ID_SIZE bytes long."""

    status = int(_lib.PRS_ERR_ID_LENGTH)


class ObjectNotFoundError(StoreError, KeyError):
    """No such object (or, for seal/abort, not one this caller created)."""

    status = int(_lib.PRS_ERR_NOT_FOUND)


class ObjectExistsError(StoreError):
    """An object (or a segment, for Store.create) with this id already exists."""

    status = int(_lib.PRS_ERR_EXISTS)


class ObjectSealedError(StoreError):
    """The object is sealed (or was aborted): it can no longer be written."""

    status = int(_lib.PRS_ERR_SEALED)


class ObjectNotSealedError(StoreError):
    """The operation needs a sealed object and this one is still being created."""

    status = int(_lib.PRS_ERR_NOT_SEALED)


class StoreFullError(StoreError, _exc.ObjectStoreFullError):
    """No room for the object, even after evicting every unpinned sealed object."""

    status = int(_lib.PRS_ERR_FULL)


class StoreTimeoutError(StoreError, _exc.GetTimeoutError):
    """An object was not sealed within the get's timeout."""

    status = int(_lib.PRS_ERR_TIMEOUT)


class StoreClosedError(StoreError):
    """The Store (or the view or builder's store) was closed."""

    status = int(_lib.PRS_ERR_CLOSED)


class SegmentNotFoundError(StoreError, FileNotFoundError):
    """No shared-memory segment has this name."""

    status = int(_lib.PRS_ERR_NO_SEGMENT)


class StoreMemoryError(StoreError, MemoryError):
    """The requested capacity cannot be sized or mapped on this machine."""

    status = int(_lib.PRS_ERR_NO_MEMORY)


class TableFullError(StoreError):
    """The store's object index or pin table has no free slot."""

    status = int(_lib.PRS_ERR_TABLE_FULL)


class NotPinnedError(StoreError):
    """Release of an object this process does not pin (or of a released view)."""

    status = int(_lib.PRS_ERR_NOT_PINNED)


class BadSegmentError(StoreError):
    """The segment exists but is not a polyray store of this version."""

    status = int(_lib.PRS_ERR_BAD_SEGMENT)


class StoreSystemError(StoreError):
    """An OS call failed; the message carries errno's text."""

    status = int(_lib.PRS_ERR_SYSTEM)


_ERRORS: dict[int, type[StoreError]] = {
    cls.status: cls
    for cls in (
        InvalidArgumentError,
        InvalidObjectIdError,
        ObjectNotFoundError,
        ObjectExistsError,
        ObjectSealedError,
        ObjectNotSealedError,
        StoreFullError,
        StoreTimeoutError,
        StoreClosedError,
        SegmentNotFoundError,
        StoreMemoryError,
        TableFullError,
        NotPinnedError,
        BadSegmentError,
        StoreSystemError,
    )
}


def _error(status: int) -> StoreError:
    """The exception for a failed call; must run right after it, same thread."""
    message = _ffi.string(_lib.prs_last_error()).decode("utf-8", "replace")
    if not message:
        message = _ffi.string(_lib.prs_status_name(status)).decode("utf-8", "replace")
    return _ERRORS.get(status, StoreError)(message, status)


def _check_id(object_id: Any) -> bytes:
    """object_id as bytes of the right length, else InvalidObjectIdError."""
    if not isinstance(object_id, bytes):
        try:
            object_id = bytes(memoryview(object_id))
        except TypeError:
            raise InvalidObjectIdError(
                f"object id must be {OBJECT_ID_SIZE} bytes, "
                f"got a {type(object_id).__name__}"
            ) from None
    if len(object_id) != OBJECT_ID_SIZE:
        raise InvalidObjectIdError(
            f"object id must be {OBJECT_ID_SIZE} bytes long, got {len(object_id)} bytes"
        )
    return object_id


def _timeout_ms(timeout: Optional[float]) -> int:
    """Seconds (None: forever) as the C API's milliseconds (<0: forever)."""
    if timeout is None or timeout == math.inf:
        return -1
    if timeout != timeout or timeout < 0:  # NaN or negative
        raise InvalidArgumentError(f"timeout must be None or >= 0 seconds, got {timeout!r}")
    # Round up so that a tiny positive timeout still waits.
    return int(math.ceil(timeout * 1000.0))


def _as_source(data: Any) -> tuple[Any, int]:
    """A C-passable pointer to data's bytes and their count (no copy if contiguous)."""
    if type(data) is bytes:
        return data, len(data)
    try:
        mv = memoryview(data)
    except TypeError:
        raise InvalidArgumentError(
            f"data must support the buffer protocol (bytes, numpy array, ...), "
            f"got a {type(data).__name__}"
        ) from None
    n = mv.nbytes
    if n == 0:
        return _NULL, 0
    if not mv.c_contiguous:
        # A strided buffer has no single source pointer: gather it first.
        mv = memoryview(mv.tobytes())
    return _ffi_from_buffer("uint8_t[]", mv), n


# --------------------------------------------------------------------------
# Handle ownership


class _Handle:
    """Owns one ``prs_store *``; the segment is unmapped when this object dies.

    The Store holds one reference and every live pin or builder holds one, so
    the mapping outlives ``Store.close()`` while some buffer still points into
    it. It holds no reference back (no cycle), so it dies as soon as the last
    holder does.
    """

    __slots__ = ("ptr", "drop_pins")

    def __init__(self, ptr: Any) -> None:
        self.ptr = ptr
        self.drop_pins = 0

    def __del__(self) -> None:
        ptr = self.ptr
        if ptr is not None:
            self.ptr = None
            try:
                _lib.prs_store_close(ptr, self.drop_pins)
            except Exception:  # interpreter shutdown: the process unmaps anyway
                pass


def _unpin(handle: _Handle, object_id: bytes, _ptr: Any) -> None:
    """ffi.gc destructor of a view's pin token: drop the pin, once."""
    ptr = handle.ptr
    if ptr is not None:
        # Failure is not reportable from a destructor; it means the pin is
        # already gone (reclaimed, or this is a forked child: pins are per pid).
        _prs_release(ptr, object_id)


def _hold(owner: Any, _ptr: Any) -> None:
    """ffi.gc destructor that only keeps ``owner`` alive as long as its cdata."""


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
# Views and builders

_EMPTY_BYTES = b""


def _empty() -> memoryview:
    # A fresh one each time: a shared instance could be released by any user.
    return memoryview(_EMPTY_BYTES)


class ObjectView:
    """A read-only, zero-copy view of a sealed object, pinned while in use.

    ``data`` and ``metadata`` are read-only memoryviews over the shared
    memory. The object stays pinned (never evicted nor freed) while this view
    or anything made from its buffers is alive; the pin is dropped once, when
    the last of them is garbage-collected.
    """

    __slots__ = ("object_id", "data_size", "metadata_size", "_tok", "_meta_ptr",
                 "_data", "_metadata")

    object_id: bytes
    """The object's id."""
    data_size: int
    """Length of ``data`` in bytes."""
    metadata_size: int
    """Length of ``metadata`` in bytes."""

    def __init__(self, object_id: bytes, tok: Any, data_size: int,
                 meta_ptr: Any, metadata_size: int) -> None:
        self.object_id = object_id
        self.data_size = data_size
        self.metadata_size = metadata_size
        self._tok = tok  # ffi.gc pointer to the data; its death drops the pin
        self._meta_ptr = meta_ptr
        self._data: Optional[memoryview] = None
        self._metadata: Optional[memoryview] = None

    def _released(self) -> NotPinnedError:
        return NotPinnedError(
            f"view of object {self.object_id.hex()} was released; get it again"
        )

    @property
    def data(self) -> memoryview:
        """The object's data: a read-only memoryview over shared memory (no copy)."""
        d = self._data
        if d is None:
            tok = self._tok
            if tok is None:
                raise self._released()
            if self.data_size == 0:
                d = self._data = _empty()
                return d
            # The buffer references tok, so every view derived from it keeps
            # the pin; built lazily because many gets never touch the bytes.
            d = self._data = memoryview(_ffi_buffer(tok, self.data_size)).toreadonly()
        return d

    @property
    def metadata(self) -> memoryview:
        """The object's metadata: a read-only memoryview over shared memory."""
        m = self._metadata
        if m is None:
            tok = self._tok
            if tok is None:
                raise self._released()
            if self.metadata_size == 0:
                m = _empty()
            else:
                # A second gc pointer whose destructor closes over tok: the
                # metadata buffer keeps the one pin alive, like the data buffer.
                mtok = _ffi_gc(self._meta_ptr, partial(_hold, tok))
                m = memoryview(_ffi_buffer(mtok, self.metadata_size)).toreadonly()
            self._metadata = m
        return m

    @property
    def released(self) -> bool:
        """True once ``release()`` was called on this view."""
        return self._tok is None

    def release(self) -> None:
        """Give up this view's hold on the object (idempotent).

        The pin is dropped now if nothing made from the view's buffers is
        alive, else when the last such buffer is garbage-collected: releasing
        never leaves an array pointing at unpinned memory.
        """
        self._tok = None
        self._meta_ptr = None
        self._data = None
        self._metadata = None

    def __enter__(self) -> "ObjectView":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "released" if self._tok is None else "pinned"
        return (f"ObjectView({self.object_id.hex()}, data_size={self.data_size}, "
                f"metadata_size={self.metadata_size}, {state})")


_CREATED, _SEALED, _ABORTED = 0, 1, 2


class ObjectBuilder:
    """An object being created: write ``data`` and ``metadata``, then ``seal()``.

    The object is invisible to readers until sealed. A builder dropped
    without seal or abort aborts its object. After ``seal()`` or ``abort()``
    touching ``data`` raises ObjectSealedError and the memoryviews it returned
    are released. Slices or numpy arrays made from them are not tracked:
    writing through those after seal is a bug the binding cannot catch.
    """

    __slots__ = ("object_id", "_store", "_handle", "_data", "_metadata", "_state")

    object_id: bytes
    """The object's id."""

    def __init__(self, object_id: bytes, store: "Store", handle: _Handle,
                 data: memoryview, metadata: memoryview) -> None:
        self.object_id = object_id
        self._store = store
        self._handle = handle
        self._data = data
        self._metadata = metadata
        self._state = _CREATED

    def _finished(self) -> ObjectSealedError:
        what = "sealed" if self._state == _SEALED else "aborted"
        return ObjectSealedError(
            f"object {self.object_id.hex()} was {what}; its bytes can no longer be written"
        )

    @property
    def data(self) -> memoryview:
        """Writable memoryview over the object's data in shared memory."""
        if self._state != _CREATED:
            raise self._finished()
        return self._data

    @property
    def metadata(self) -> memoryview:
        """Writable memoryview over the object's metadata in shared memory."""
        if self._state != _CREATED:
            raise self._finished()
        return self._metadata

    def _drop_buffers(self) -> None:
        for mv in (self._data, self._metadata):
            try:
                mv.release()  # later writes through old references then fail
            except BufferError:
                pass  # someone holds an export; it keeps the mapping alive
        self._data = self._metadata = None

    def _ptr(self) -> Any:
        if self._store._handle is None:
            # The handle itself is still mapped (we hold it): clean up the
            # object rather than leave it allocated until this process dies.
            self._state = _ABORTED
            _lib.prs_abort(self._handle.ptr, self.object_id)
            self._drop_buffers()
            raise StoreClosedError(
                f"store {self._store.name!r} is closed; object {self.object_id.hex()} "
                f"was aborted")
        return self._handle.ptr

    def seal(self) -> None:
        """Make the object immutable and visible to get (wakes waiting getters)."""
        if self._state != _CREATED:
            if self._state == _SEALED:
                raise ObjectSealedError(f"object {self.object_id.hex()} is already sealed")
            raise ObjectNotFoundError(
                f"object {self.object_id.hex()} was aborted; it cannot be sealed")
        st = _lib.prs_seal(self._ptr(), self.object_id)
        if st:
            raise _error(st)
        self._state = _SEALED
        self._drop_buffers()

    def abort(self) -> None:
        """Drop the unsealed object and free its memory."""
        if self._state != _CREATED:
            if self._state == _SEALED:
                raise ObjectSealedError(
                    f"object {self.object_id.hex()} is sealed; it cannot be aborted")
            raise ObjectNotFoundError(f"object {self.object_id.hex()} was already aborted")
        st = _lib.prs_abort(self._ptr(), self.object_id)
        if st:
            raise _error(st)
        self._state = _ABORTED
        self._drop_buffers()

    def __enter__(self) -> "ObjectBuilder":
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        # Seal on success, abort on error: never leave a half-written object.
        if self._state == _CREATED:
            if exc_type is None:
                self.seal()
            else:
                self.abort()

    def __del__(self) -> None:
        try:
            if self._state == _CREATED and self._handle.ptr is not None:
                self._state = _ABORTED
                _lib.prs_abort(self._handle.ptr, self.object_id)
        except Exception:  # interpreter shutdown or a half-built instance
            pass

    def __repr__(self) -> str:
        state = ("created", "sealed", "aborted")[self._state]
        return f"ObjectBuilder({self.object_id.hex()}, {state})"


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
