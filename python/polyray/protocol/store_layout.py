"""How an envelope is laid out as one shared-store object.

Data = body at offset 0, then each buffer at the next multiple of
``STORE_ALIGNMENT`` (zero padding between); metadata = a header (magic,
version, format, buffer count, body length) + (offset, length) per buffer.
:func:`polyray.protocol.envelope.decode_from_store` decodes such an object.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from polyray.protocol.envelope_types import (
    STORE_ALIGNMENT,
    STORE_MAGIC,
    STORE_VERSION,
    Encoded,
    _byte_view,
    _nbytes,
)

# -- store object layout ------------------------------------------------------------------

# magic, version, format, reserved u16, buffer count u32, reserved u32, body length u64
_META_HEAD = struct.Struct("<4sBBHIIQ")
_META_BUF = struct.Struct("<QQ")  # offset, length (bytes, from the start of data)


class StoreLayout(NamedTuple):
    """Where an envelope goes in a store object: create it with ``data_size`` bytes
    of data and ``len(metadata)`` bytes of metadata, call ``write(data)``, copy
    ``metadata`` into the metadata part, then seal."""

    metadata: bytes
    data_size: int
    write: Callable[[Any], None]


def _align(n: int) -> int:
    return (n + STORE_ALIGNMENT - 1) & ~(STORE_ALIGNMENT - 1)


def store_layout(encoded: Encoded) -> StoreLayout:
    """The metadata, data size and writer of ``encoded`` as one store object.

    Data = body at offset 0, then each buffer at the next multiple of 64
    (zero padding between); metadata = header + (offset, length) per buffer.
    """
    body = encoded.body
    body_len = _nbytes(body)
    entries: list[tuple[int, int]] = []
    end = body_len
    for b in encoded.buffers:
        off = _align(end)
        n = _nbytes(b)
        entries.append((off, n))
        end = off + n
    meta = bytearray(
        _META_HEAD.pack(
            STORE_MAGIC, STORE_VERSION, encoded.format, 0, len(entries), 0, body_len
        )
    )
    for off, n in entries:
        meta += _META_BUF.pack(off, n)
    buffers = encoded.buffers

    def write(data: Any) -> None:
        mv = _byte_view(data)
        if mv.nbytes < end:
            raise ValueError(f"store object data is {mv.nbytes} bytes, the envelope needs {end}")
        mv[:body_len] = _byte_view(body)
        prev = body_len
        for (off, n), b in zip(entries, buffers):
            if off > prev:
                mv[prev:off] = bytes(off - prev)  # deterministic padding
            mv[off : off + n] = _byte_view(b)
            prev = off + n

    return StoreLayout(bytes(meta), end, write)


def store_metadata(encoded: Encoded) -> bytes:
    """The store metadata of ``encoded`` (``store_layout(encoded).metadata``)."""
    return store_layout(encoded).metadata


def store_data_size(encoded: Encoded) -> int:
    """The store data size of ``encoded`` (``store_layout(encoded).data_size``)."""
    return store_layout(encoded).data_size


def pack_into(encoded: Encoded, data: Any) -> bytes:
    """Write ``encoded`` into ``data`` (at least ``store_layout(encoded).data_size``
    bytes, writable) and return the metadata to store beside it."""
    layout = store_layout(encoded)
    layout.write(data)
    return layout.metadata


def unpack_from(metadata: Any, data: Any) -> tuple[int, memoryview, list[memoryview]]:
    """``(format, body, buffers)`` of a store object: memoryviews into ``data``, no copy."""
    meta = bytes(metadata)
    if len(meta) < _META_HEAD.size:
        raise ValueError(f"store object metadata is {len(meta)} bytes, shorter than the header")
    magic, version, fmt, _, count, _, body_len = _META_HEAD.unpack_from(meta, 0)
    if magic != STORE_MAGIC:
        raise ValueError(f"store object metadata has magic {magic!r}, expected {STORE_MAGIC!r}")
    if version != STORE_VERSION:
        raise ValueError(f"store object layout version {version} is not supported (expected 1)")
    if len(meta) != _META_HEAD.size + count * _META_BUF.size:
        raise ValueError(
            f"store object metadata is {len(meta)} bytes, {count} buffers need "
            f"{_META_HEAD.size + count * _META_BUF.size}"
        )
    mv = _byte_view(data)
    size = mv.nbytes
    if body_len > size:
        raise ValueError(f"store object body of {body_len} bytes exceeds its data ({size})")
    buffers = []
    for i in range(count):
        off, n = _META_BUF.unpack_from(meta, _META_HEAD.size + i * _META_BUF.size)
        if off + n > size:
            raise ValueError(f"store object buffer {i} [{off}, {off + n}) exceeds its data ({size})")
        buffers.append(mv[off : off + n])
    return fmt, mv[:body_len], buffers
