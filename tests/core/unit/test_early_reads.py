"""The early read's decoder (core/object_getter.py _decode_plain): the value
envelope.decode gives for stored XLANG envelopes of plain data, and "not
plain" (read after the owner's answer) for every other envelope and for
garbage — never user code, never a ref."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest

from polyray.core.object_getter import _NOT_PLAIN, _decode_plain
from polyray.protocol import common_pb2, envelope
from polyray.protocol.envelope_types import CodecHooks


def _stored(value, target=common_pb2.PYTHON, hooks=None) -> SimpleNamespace:
    """A view of ``value`` as the store would hold it (metadata and data)."""
    enc = envelope.encode(value, target, hooks) if hooks is not None else envelope.encode(value, target)
    layout = envelope.store_layout(enc)
    data = bytearray(layout.data_size)
    layout.write(data)
    return SimpleNamespace(metadata=memoryview(layout.metadata), data=memoryview(data))


PLAIN = [
    b"x" * 100 * 1024,
    [b"a" * 60_000, 7, None, True, 1.5, "text"],
    {"k": b"v" * 1000, "n": [1, 2, {"deep": -3}]},
    "a string" * 100,
    list(range(10_000)),
]


@pytest.mark.parametrize("value", PLAIN, ids=["bytes", "list", "dict", "str", "ints"])
def test_plain_values_decode_as_envelope_decode_does(value):
    view = _stored(value)
    fmt, body, buffers = envelope.unpack_from(view.metadata, view.data)
    assert fmt == envelope.FORMAT_XLANG
    assert _decode_plain(view) == envelope.decode(fmt, body, buffers) == value


class Marker:
    """Encoded as an ObjectRef by _Refs."""


class _Refs(CodecHooks):
    def encode_object_ref(self, obj):
        if isinstance(obj, Marker):
            return common_pb2.ObjectRef(object_id=os.urandom(28))
        return None


class Custom:
    def __init__(self) -> None:
        self.x = 1


@pytest.mark.parametrize("value", [np.arange(50_000), [np.arange(10), b"x"], Custom(), {1, 2, 3}, [Custom(), b"y"]],
                         ids=["ndarray", "ndarray-inside", "python-object", "set", "python-object-inside"])
def test_other_values_are_not_read_early(value):
    assert _decode_plain(_stored(value)) is _NOT_PLAIN


def test_a_tuple_is_not_read_early():
    # Python tuples travel as an ext (they stay tuples); plain msgpack would make them lists.
    view = _stored((1, b"x", (2, 3)))
    assert envelope.decode(*envelope.unpack_from(view.metadata, view.data)) == (1, b"x", (2, 3))
    assert _decode_plain(view) is _NOT_PLAIN


def test_refs_inside_are_not_read_early():
    view = _stored([Marker(), b"x" * 1000], hooks=_Refs())
    fmt, _, _ = envelope.unpack_from(view.metadata, view.data)
    assert fmt == envelope.FORMAT_XLANG
    assert _decode_plain(view) is _NOT_PLAIN


@pytest.mark.parametrize("garbage", [b"", b"\x00" * 10, os.urandom(64), b"\xc1" * 200])
def test_garbage_is_not_plain(garbage):
    view = SimpleNamespace(metadata=memoryview(garbage), data=memoryview(garbage))
    assert _decode_plain(view) is _NOT_PLAIN
    good = _stored(b"x" * 1000)
    broken = SimpleNamespace(metadata=good.metadata, data=memoryview(bytes(good.data)[:5]))
    assert _decode_plain(broken) is _NOT_PLAIN
