"""Python binding of the node's shared-memory object store (bridge/README.md).

The store is the C library in ``bridge/`` (header ``polyray_store.h``),
compiled into ``polyray._store_cffi`` by cffi. This package wraps it in a small
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

Invariants: every public name is importable from ``polyray.store`` itself;
callers never import the package's modules directly. Each module imports
only modules listed before it in README.md (binding, errors, arguments,
handle, objects, records, segment), so there is no import circle.
"""

from __future__ import annotations

from polyray.store.binding import OBJECT_ID_SIZE
from polyray.store.errors import (
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
)
from polyray.store.objects import ObjectBuilder, ObjectView
from polyray.store.records import ObjectInfo, ReclaimResult, StoreStats
from polyray.store.segment import Store

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
