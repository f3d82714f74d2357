"""SegmentHandle: ownership of one mapped segment, and the pin destructors.

Invariants: a segment is unmapped exactly once, when its SegmentHandle dies;
the Store and every live pin or builder hold a reference to it, and it holds
none back (no reference cycle), so it dies as soon as its last holder does.
A view's pin is dropped exactly once, by the ``unpin`` destructor of the
cffi pointer that owns it.
"""

from __future__ import annotations

from typing import Any

from polyray.store.binding import lib, prs_release


class SegmentHandle:
    """Owns one ``prs_store *``; the segment is unmapped when this object dies.

    The Store holds one reference and every live pin or builder holds one, so
    the mapping outlives ``Store.close()`` while some buffer still points into
    it. ``drop_pins`` (set by ``Store.close``) tells the C library whether to
    drop this process's remaining pins at unmap time.
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
                lib.prs_store_close(ptr, self.drop_pins)
            except Exception:  # interpreter shutdown: the process unmaps anyway
                pass


def unpin(handle: SegmentHandle, object_id: bytes, _ptr: Any) -> None:
    """ffi.gc destructor of a view's pin token: drop the pin, once."""
    ptr = handle.ptr
    if ptr is not None:
        # Failure is not reportable from a destructor; it means the pin is
        # already gone (reclaimed, or this is a forked child: pins are per pid).
        prs_release(ptr, object_id)


def hold(owner: Any, _ptr: Any) -> None:
    """ffi.gc destructor that only keeps ``owner`` alive as long as its cdata."""
