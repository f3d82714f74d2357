"""The store object layout: header, 64-byte alignment, zero-copy decode."""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import pytest

from polyray.protocol import envelope as E


def _address(obj) -> int:
    return np.frombuffer(obj, np.uint8).__array_interface__["data"][0]


def _store_object(enc: E.Encoded) -> tuple[bytes, memoryview]:
    """Lay ``enc`` out in a fresh, 64-byte aligned region (like a store block)."""
    layout = E.store_layout(enc)
    raw = np.zeros(layout.data_size + 64, np.uint8)
    start = (-raw.__array_interface__["data"][0]) % 64
    data = memoryview(raw[start : start + layout.data_size])
    layout.write(data)
    return layout.metadata, data


def test_layout_header_and_alignment():
    arrays = [np.arange(n, dtype="<f8") for n in (3, 10_000, 1, 20_000)]
    enc = E.encode(arrays, oob_threshold=8)
    assert len(enc.buffers) == 4
    layout = E.store_layout(enc)
    meta = layout.metadata
    assert len(meta) == 24 + 16 * 4
    magic, version, fmt, _, count, _, body_len = struct.unpack_from("<4sBBHIIQ", meta)
    assert (magic, version, fmt, count, body_len) == (b"PRYE", 1, E.FORMAT_XLANG, 4, len(enc.body))
    entries = [struct.unpack_from("<QQ", meta, 24 + 16 * i) for i in range(4)]
    prev_end = body_len
    for (off, n), a in zip(entries, arrays):
        assert off % 64 == 0 and off >= prev_end and off - prev_end < 64
        assert n == a.nbytes
        prev_end = off + n
    assert layout.data_size == prev_end
    assert E.store_metadata(enc) == meta and E.store_data_size(enc) == layout.data_size

    data = bytearray(b"\xee" * layout.data_size)
    assert E.pack_into(enc, data) == meta
    assert data[:body_len] == enc.body
    for (off, n), a in zip(entries, arrays):
        assert data[off : off + n] == a.tobytes()
    assert data[body_len : entries[0][0]] == bytes(entries[0][0] - body_len)  # zero padding


def test_no_buffers_and_empty_values():
    enc = E.encode("x")
    layout = E.store_layout(enc)
    assert layout.data_size == len(enc.body) and len(layout.metadata) == 24
    data = bytearray(layout.data_size)
    layout.write(data)
    assert E.decode_from_store(layout.metadata, data) == "x"
    empty = E.encode_raw(b"")
    meta = E.pack_into(empty, bytearray())
    assert E.decode_from_store(meta, b"") == b""


def test_zero_copy_ndarray_from_store_memory():
    a = np.arange(1 << 17, dtype="<f8")  # 1 MiB
    meta, data = _store_object(E.encode({"a": a, "small": np.arange(3)}))
    fmt, body, buffers = E.unpack_from(meta, data)
    assert fmt == E.FORMAT_XLANG and len(buffers) == 1
    assert _address(buffers[0]) % 64 == 0
    out = E.decode_from_store(meta, data)
    backing = np.frombuffer(data, np.uint8)
    assert np.shares_memory(out["a"], backing)
    start = _address(data)
    assert start <= out["a"].__array_interface__["data"][0] < start + len(data)
    assert out["a"].__array_interface__["data"][0] % 64 == 0
    assert not out["a"].flags.writeable and (out["a"] == a).all()
    assert (out["small"] == np.arange(3)).all()


def test_zero_copy_pickled_value_from_store_memory():
    a = np.ones((512, 256), dtype="<f4")
    enc = E.encode((a, "tuple forces PYTHON"))
    assert enc.format == E.FORMAT_PYTHON and enc.buffers
    meta, data = _store_object(enc)
    out, _ = E.decode_from_store(meta, data)
    assert np.shares_memory(out, np.frombuffer(data, np.uint8)) and (out == a).all()


def test_arrow_from_store_memory():
    t = pa.table({"x": np.arange(100_000, dtype=np.int64)})
    meta, data = _store_object(E.encode(t, E.JAVA))
    out = E.decode_from_store(meta, data)
    assert out.equals(t)
    col_addr = out.column("x").chunk(0).buffers()[1].address
    start = _address(data)
    assert start <= col_addr < start + len(data)  # a view, not a copy


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda m: b"XXXX" + m[4:], "magic"),
        (lambda m: m[:4] + b"\x09" + m[5:], "version"),
        (lambda m: m[:10], "shorter"),
        (lambda m: m + b"\x00" * 16, "buffers need"),
    ],
)
def test_bad_metadata(mutate, match):
    enc = E.encode([np.arange(100)], oob_threshold=8)
    meta, data = _store_object(enc)
    with pytest.raises(ValueError, match=match):
        E.unpack_from(mutate(meta), data)


def test_truncated_data():
    enc = E.encode([np.arange(100)], oob_threshold=8)
    meta, data = _store_object(enc)
    with pytest.raises(ValueError, match="exceeds"):
        E.unpack_from(meta, data[:-1])
    with pytest.raises(ValueError, match="needs"):
        E.store_layout(enc).write(bytearray(10))


def test_real_shared_store(tmp_path):
    store_mod = pytest.importorskip("polyray.store")
    import os
    import uuid

    name = f"/prs-proto-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        store = store_mod.Store.create(name, 64 << 20)
    except Exception as e:  # pragma: no cover - no shm on this machine
        pytest.skip(f"no shared store: {e}")
    try:
        a = np.arange(1 << 20, dtype="<i8")  # 8 MiB
        enc = E.encode(a)
        layout = E.store_layout(enc)
        oid = b"\x01" * 28
        builder = store.create_object(oid, layout.data_size, len(layout.metadata))
        layout.write(builder.data)
        builder.metadata[:] = layout.metadata
        builder.seal()
        with store.get_one(oid) as view:
            out = E.decode_from_store(view.metadata, view.data)
            assert np.shares_memory(out, np.frombuffer(view.data, np.uint8))
            assert out.__array_interface__["data"][0] % 64 == 0
            assert (out == a).all() and not out.flags.writeable
            del out
    finally:
        store.close()
        store_mod.Store.unlink(name)
