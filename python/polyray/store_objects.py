"""Views and builders of shared-store objects, and the handle they keep alive.

:class:`ObjectView` (a pinned, zero-copy, read-only sealed object) and
:class:`ObjectBuilder` (an object being written) are returned by
:class:`polyray.store.Store`, which re-exports them; see that module for the
lifetime rules.
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING, Any, Optional

from polyray._store_cffi import ffi as _ffi
from polyray._store_cffi import lib as _lib
from polyray.store_errors import (
    InvalidArgumentError,
    InvalidObjectIdError,
    NotPinnedError,
    ObjectNotFoundError,
    ObjectSealedError,
    StoreClosedError,
    _error,
)

if TYPE_CHECKING:
    from polyray.store import Store

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
