"""Exceptions of the shared-memory object store, one per C status (prs_status).

Invariants: one class per prs_status, each carrying that status; every class
is a StoreError (hence a PolyrayError), and those that mean what a builtin or
polyray error means (ObjectStoreFullError, GetTimeoutError, KeyError, ...)
are also one, so callers can catch the general type. Re-exported by
:mod:`polyray.store`; ``error_for_status`` maps a failed call's status to its
exception.
"""

from __future__ import annotations

from polyray import exceptions as _exc
from polyray.store.binding import ffi as _ffi
from polyray.store.binding import lib as _lib


class StoreError(_exc.PolyrayError):
    """A shared-store call failed; ``status`` is the C library's prs_status."""

    status: int = -1

    def __init__(self, message: str = "", status: int | None = None) -> None:
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


#: The exception class of each prs_status (StoreError for one not listed).
ERRORS_BY_STATUS: dict[int, type[StoreError]] = {
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


def error_for_status(status: int) -> StoreError:
    """The exception for a failed call; must run right after it, same thread."""
    message = _ffi.string(_lib.prs_last_error()).decode("utf-8", "replace")
    if not message:
        message = _ffi.string(_lib.prs_status_name(status)).decode("utf-8", "replace")
    return ERRORS_BY_STATUS.get(status, StoreError)(message, status)
