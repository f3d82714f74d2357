"""The compiled cffi module of the shared store, and fast aliases into it.

Invariants: this is the only module of polyray.store that imports
``polyray._store_cffi`` (built by setup.py from bridge/src, kept at that name
and place); it imports nothing else of polyray, so every other module of the
package may import it. The aliases exist because the hot path (get, put)
pays for every attribute lookup on ``lib`` and ``ffi``.
"""

from __future__ import annotations

try:
    from polyray._store_cffi import ffi, lib
except ImportError as _e:  # pragma: no cover - depends on the install
    raise ImportError(
        "polyray's shared-store extension (polyray._store_cffi) is not built: "
        "install the package with `pip install -e .` (or `make python`), which "
        f"compiles it from bridge/src ({_e})"
    ) from _e

__all__ = [
    "ffi", "lib", "OBJECT_ID_SIZE", "OK", "TIMEOUT", "NULL", "prs_get", "prs_release",
    "prs_py_put", "ffi_new", "ffi_gc", "ffi_buffer", "ffi_from_buffer",
]

OBJECT_ID_SIZE: int = int(lib.PRS_OBJECT_ID_SIZE)
"""Length in bytes of an object id (the protocol's ObjectID)."""

OK = lib.PRS_OK
"""prs_status of a call that succeeded."""
TIMEOUT = lib.PRS_ERR_TIMEOUT
"""prs_status of a wait that ended before the object was sealed."""
NULL = ffi.NULL
"""The C null pointer."""

prs_get = lib.prs_get
prs_release = lib.prs_release
prs_py_put = lib.prs_py_put
ffi_new = ffi.new
ffi_gc = ffi.gc
ffi_buffer = ffi.buffer
ffi_from_buffer = ffi.from_buffer
