"""Checks and conversions of the store API's arguments into what the C calls take.

Invariants: every function either returns a value the C library accepts or
raises a StoreError subclass naming what was wrong; none calls the C library
or copies a contiguous buffer.
"""

from __future__ import annotations

import math
from typing import Any

from polyray.store.binding import NULL, OBJECT_ID_SIZE, ffi_from_buffer
from polyray.store.errors import InvalidArgumentError, InvalidObjectIdError


def check_id(object_id: Any) -> bytes:
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


def timeout_ms(timeout: float | None) -> int:
    """Seconds (None: forever) as the C API's milliseconds (<0: forever)."""
    if timeout is None or timeout == math.inf:
        return -1
    if timeout != timeout or timeout < 0:  # NaN or negative
        raise InvalidArgumentError(f"timeout must be None or >= 0 seconds, got {timeout!r}")
    # Round up so that a tiny positive timeout still waits.
    return int(math.ceil(timeout * 1000.0))


def as_source(data: Any) -> tuple[Any, int]:
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
        return NULL, 0
    if not mv.c_contiguous:
        # A strided buffer has no single source pointer: gather it first.
        mv = memoryview(mv.tobytes())
    return ffi_from_buffer("uint8_t[]", mv), n
