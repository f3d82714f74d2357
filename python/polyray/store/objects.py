"""Views and builders of shared-store objects.

:class:`ObjectView` (a pinned, zero-copy, read-only sealed object) and
:class:`ObjectBuilder` (an object being written) are returned by
:class:`polyray.store.Store`; the package docstring has the lifetime rules.

Invariants: a view's memoryviews are read-only and each keeps the view's pin
token (hence the pin and the mapping) alive; a builder is in exactly one of
created / sealed / aborted, and once it leaves "created" its memoryviews are
released and its object is never written again. This module knows the Store
only through the small OwningStore protocol, so it does not import segment.py.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol

from polyray.store.binding import ffi_buffer, ffi_gc, lib
from polyray.store.errors import (
    NotPinnedError,
    ObjectNotFoundError,
    ObjectSealedError,
    StoreClosedError,
    error_for_status,
)
from polyray.store.handle import SegmentHandle, hold


class OwningStore(Protocol):
    """What a builder needs of the Store that created it."""

    @property
    def name(self) -> str:
        """The segment's name."""

    @property
    def closed(self) -> bool:
        """True once the Store was closed."""


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
        self._data: memoryview | None = None
        self._metadata: memoryview | None = None

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
            d = self._data = memoryview(ffi_buffer(tok, self.data_size)).toreadonly()
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
                mtok = ffi_gc(self._meta_ptr, partial(hold, tok))
                m = memoryview(ffi_buffer(mtok, self.metadata_size)).toreadonly()
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

    def __enter__(self) -> ObjectView:
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

    def __init__(self, object_id: bytes, store: OwningStore, handle: SegmentHandle,
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
        if self._store.closed:
            # The handle itself is still mapped (we hold it): clean up the
            # object rather than leave it allocated until this process dies.
            self._state = _ABORTED
            lib.prs_abort(self._handle.ptr, self.object_id)
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
        st = lib.prs_seal(self._ptr(), self.object_id)
        if st:
            raise error_for_status(st)
        self._state = _SEALED
        self._drop_buffers()

    def abort(self) -> None:
        """Drop the unsealed object and free its memory."""
        if self._state != _CREATED:
            if self._state == _SEALED:
                raise ObjectSealedError(
                    f"object {self.object_id.hex()} is sealed; it cannot be aborted")
            raise ObjectNotFoundError(f"object {self.object_id.hex()} was already aborted")
        st = lib.prs_abort(self._ptr(), self.object_id)
        if st:
            raise error_for_status(st)
        self._state = _ABORTED
        self._drop_buffers()

    def __enter__(self) -> ObjectBuilder:
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
                lib.prs_abort(self._handle.ptr, self.object_id)
        except Exception:  # interpreter shutdown or a half-built instance
            pass

    def __repr__(self) -> str:
        state = ("created", "sealed", "aborted")[self._state]
        return f"ObjectBuilder({self.object_id.hex()}, {state})"
