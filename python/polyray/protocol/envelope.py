"""The value envelope codec (docs/protocol.md §8-§10).

Every value that crosses a process boundary, inline or through the shared
store, is an envelope: a :class:`Format` tag, a body, and out-of-band
buffers. This module turns Python values into envelopes and back:

- ``encode(value, target)`` picks the format. For a Python target it uses
  XLANG (msgpack) when the value decodes back to exactly the same Python
  types, else PYTHON (pickle protocol 5). For a Java or C++ target it uses
  XLANG (or ARROW for a ``pyarrow.Table``) and raises
  :class:`XlangTypeError` for a value with no XLANG form.
- ``decode(format, body, buffers)`` turns an envelope back into a value;
  large numpy arrays come back as read-only views of the given memory.
- ``store_layout`` / ``pack_into`` / ``unpack_from`` lay an envelope out
  in one shared-store object so that decoding from the store is zero copy.

ObjectRefs and actor handles are not known to this module: the CoreWorker
passes a :class:`CodecHooks` that recognizes them on encode (returning their
protobuf form, recorded in ``Encoded.nested_refs`` / ``nested_handles``) and
rebuilds them on
decode, wherever they sit in the value and in either format.

The parts live in submodules, all re-exported here: the constants, value
types and hooks in :mod:`~polyray.protocol.envelope_types`, the XLANG codec
in :mod:`~polyray.protocol.xlang_codec`, the PYTHON format (pickle) in
:mod:`~polyray.protocol.pickling`, and the store object layout in
:mod:`~polyray.protocol.store_layout`.
"""

from __future__ import annotations

import traceback as _traceback
from collections.abc import Sequence
from typing import Any, cast

import msgpack

from polyray.protocol import common_pb2
from polyray.protocol.envelope_types import (  # noqa: F401 - re-exported
    _DTYPES,
    _FORMATS,
    _I64_MIN,
    _LANG_NAMES,
    _MAX_DECODE_DEPTH,
    _U64_MAX,
    CPP,
    DEFAULT_HOOKS,
    DEFAULT_OOB_THRESHOLD,
    EXT_ACTOR_HANDLE,
    EXT_NATIVE,
    EXT_NDARRAY,
    EXT_OBJECT_REF,
    FORMAT_ARROW,
    FORMAT_ERROR,
    FORMAT_PYTHON,
    FORMAT_RAW,
    FORMAT_XLANG,
    JAVA,
    PROTO_HOOKS,
    PYTHON,
    RAW_VIEW_THRESHOLD,
    STORE_ALIGNMENT,
    STORE_MAGIC,
    STORE_VERSION,
    XLANG_DTYPES,
    CodecHooks,
    Encoded,
    NativeValue,
    ProtoHooks,
    PythonOpaque,
    XlangTypeError,
    _byte_view,
    _ExtType,
    _identity,
    _is_arrow_table,
    _lang,
    _nbytes,
    _tls,
    _type_name,
)
from polyray.protocol.pickling import (  # noqa: F401 - re-exported
    _by_value_modules,
    _cloud_pickler,
    _NeedCloudpickle,
    _pickle,
    _pickles_by_reference,
    _reduce_reference,
    _restore_actor_handle,
    _restore_object_ref,
    _StdPickler,
    _unpickle,
)
from polyray.protocol.store_layout import (  # noqa: F401 - re-exported
    _META_BUF,
    _META_HEAD,
    StoreLayout,
    _align,
    pack_into,
    store_data_size,
    store_layout,
    store_metadata,
    unpack_from,
)
from polyray.protocol.xlang_codec import (  # noqa: F401 - re-exported
    _bad_str,
    _decode_native,
    _decode_ndarray,
    _decode_xlang,
    _dict_with_hashable_keys,
    _find_path,
    _hashable_key,
    _NotLossless,
    _Reject,
    _to_xlang,
    _xlang_array,
    _xlang_error,
    _XlangEncoder,
)

__all__ = [
    "FORMAT_XLANG",
    "FORMAT_PYTHON",
    "FORMAT_RAW",
    "FORMAT_ARROW",
    "FORMAT_ERROR",
    "PYTHON",
    "JAVA",
    "CPP",
    "EXT_OBJECT_REF",
    "EXT_ACTOR_HANDLE",
    "EXT_NDARRAY",
    "EXT_NATIVE",
    "XLANG_DTYPES",
    "DEFAULT_OOB_THRESHOLD",
    "RAW_VIEW_THRESHOLD",
    "STORE_ALIGNMENT",
    "STORE_MAGIC",
    "STORE_VERSION",
    "Encoded",
    "CodecHooks",
    "ProtoHooks",
    "DEFAULT_HOOKS",
    "PROTO_HOOKS",
    "NativeValue",
    "PythonOpaque",
    "XlangTypeError",
    "encode",
    "encode_raw",
    "decode",
    "decode_proto",
    "error_to_envelope",
    "error_record_from_exception",
    "StoreLayout",
    "store_layout",
    "store_metadata",
    "store_data_size",
    "pack_into",
    "unpack_from",
    "decode_from_store",
]


# -- encode ---------------------------------------------------------------------------


_SCALARS = frozenset([str, bytes, float, bool, type(None)])


def _plain_packer() -> msgpack.Packer:
    """This thread's msgpack packer for scalars (no default hook: never re-entered)."""
    try:
        return _tls.packer
    except AttributeError:
        p = _tls.packer = msgpack.Packer(use_bin_type=True, autoreset=True)
        return p


def encode(
    value: Any,
    target: int = PYTHON,
    hooks: CodecHooks = DEFAULT_HOOKS,
    *,
    oob_threshold: int = DEFAULT_OOB_THRESHOLD,
    path: str = "value",
) -> Encoded:
    """Encode ``value`` for a consumer written in ``target`` (a ``common_pb2.Language``).

    PYTHON target: XLANG when the value decodes to exactly the same Python
    types, else PYTHON (pickle 5; buffers of at least ``oob_threshold`` bytes
    out of band); a ``pyarrow.Table`` is ARROW. JAVA/CPP target: XLANG or
    ARROW, else :class:`XlangTypeError` naming ``path`` (plus the place
    inside the value), the type and the language. Arrays of at least
    ``oob_threshold`` bytes go out of band in either format.
    """
    t = type(value)
    # Fast path: scalars never need the default hook nor a fallback.
    if t is int:
        if _I64_MIN <= value <= _U64_MAX:
            return Encoded(FORMAT_XLANG, _plain_packer().pack(value), [], [])
    elif t in _SCALARS:
        try:
            return Encoded(FORMAT_XLANG, _plain_packer().pack(value), [], [])
        except (UnicodeEncodeError, ValueError):
            # Lone surrogates, or > 4 GiB: the general path decides. Do not
            # trust the packer's state after a failure.
            del _tls.packer
    if target == PYTHON:
        return _encode_for_python(value, hooks, oob_threshold)
    if target == JAVA or target == CPP:
        return _encode_for_xlang(value, target, hooks, oob_threshold, path)
    raise ValueError(f"encode: unknown target language {target!r}")


def _encode_for_python(value: Any, hooks: CodecHooks, threshold: int) -> Encoded:
    t = type(value)
    if _is_arrow_table(value):
        return _encode_arrow(value)
    if t is not bytearray:  # bytearray would arrive as bytes: keep its type (see docs)
        enc = _XlangEncoder(hooks, True, threshold)
        packer = msgpack.Packer(default=enc.default, strict_types=True, use_bin_type=True)
        try:
            body = packer.pack(value)
        except (_NotLossless, UnicodeEncodeError, ValueError, OverflowError):
            pass  # no exact XLANG form (or too deep / too large for msgpack): pickle
        else:
            return Encoded(FORMAT_XLANG, body, enc.buffers, enc.refs, enc.handles)
    refs: list = []
    handles: list = []
    buffers: list = []
    body = _pickle(value, hooks, refs, handles, buffers, threshold)
    return Encoded(FORMAT_PYTHON, body, buffers, refs, handles)


def _encode_for_xlang(
    value: Any, target: int, hooks: CodecHooks, threshold: int, path: str
) -> Encoded:
    if _is_arrow_table(value):
        return _encode_arrow(value)
    enc = _XlangEncoder(hooks, False, threshold)
    # Not strict: tuples, int/str/float/dict/list subclasses pack as their base type.
    packer = msgpack.Packer(default=enc.default, strict_types=False, use_bin_type=True)
    try:
        body = packer.pack(value)
    except _Reject as r:
        rejected = r.obj  # the lambda must not close over `r`, which Python unbinds after the except
        where = _find_path(value, lambda x: x is rejected, path) or path
        raise _xlang_error(where, r.obj, r.what, r.hint, target) from None
    except UnicodeEncodeError:
        where = _find_path(value, _bad_str, path) or path
        raise XlangTypeError(
            f"{where} (str with lone surrogates) has no XLANG form, so it cannot be passed to "
            f"{_lang(target)}: XLANG strings are UTF-8 (docs/protocol.md §Type mapping)",
            path=where,
            type_name="str",
            language=target,
        ) from None
    except ValueError as e:  # nesting deeper than msgpack allows, or > 4 GiB bin/str
        raise XlangTypeError(
            f"{path} cannot be encoded as XLANG for {_lang(target)}: {e}",
            path=path,
            type_name=_type_name(value),
            language=target,
        ) from None
    return Encoded(FORMAT_XLANG, body, enc.buffers, enc.refs, enc.handles)


def encode_raw(data: bytes | bytearray | memoryview) -> Encoded:
    """A RAW envelope of these bytes (not copied: a memoryview body stays a view)."""
    body = data if type(data) is bytes else memoryview(data).cast("B")
    return Encoded(FORMAT_RAW, body, [], [])


def _encode_arrow(table: Any) -> Encoded:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return Encoded(FORMAT_ARROW, memoryview(sink.getvalue()), [], [])


# -- decode ---------------------------------------------------------------------------


def decode(
    format: int, body: Any, buffers: Sequence[Any] = (), hooks: CodecHooks = DEFAULT_HOOKS
) -> Any:
    """Decode an envelope's parts into a Python value.

    XLANG: msgpack types (arrays -> list, maps -> dict; array map keys ->
    tuple), ndarrays as read-only arrays (out-of-band ones are views of the
    given buffer memory), refs and handles through ``hooks``, other
    languages' native values as :class:`NativeValue`. PYTHON: unpickled
    with ``buffers``. RAW: bytes, or a read-only memoryview over ``body``
    when it is not bytes and at least RAW_VIEW_THRESHOLD long. ARROW: a
    ``pyarrow.Table`` over ``body``'s memory. ERROR: the
    ``common_pb2.ErrorRecord`` (the CoreWorker raises it).
    """
    if format == FORMAT_XLANG:
        if len(body) == 1:  # fast path: fixints, nil, booleans
            b = body[0]
            if b < 0x80:
                return b
            if b >= 0xE0:
                return b - 0x100
            if b == 0xC0:
                return None
            if b == 0xC3:
                return True
            if b == 0xC2:
                return False
        return _decode_xlang(body, buffers, hooks)
    if format == FORMAT_PYTHON:
        return _unpickle(body, buffers, hooks)
    if format == FORMAT_RAW:
        if type(body) is bytes:
            return body
        if _nbytes(body) >= RAW_VIEW_THRESHOLD:
            return memoryview(body).cast("B").toreadonly()
        return bytes(body)
    if format == FORMAT_ARROW:
        import pyarrow as pa

        return pa.ipc.open_stream(pa.py_buffer(body)).read_all()
    if format == FORMAT_ERROR:
        return common_pb2.ErrorRecord.FromString(body if type(body) is bytes else bytes(body))
    raise ValueError(f"decode: unknown envelope format {format!r}")


def decode_proto(env: common_pb2.Envelope, hooks: CodecHooks = DEFAULT_HOOKS) -> Any:
    """Decode a protobuf Envelope (see :func:`decode`)."""
    return decode(env.format, env.body, env.buffers, hooks)


# -- errors ---------------------------------------------------------------------------


def error_to_envelope(record: common_pb2.ErrorRecord) -> Encoded:
    """The ERROR envelope of an error record (body = the serialized record)."""
    return Encoded(FORMAT_ERROR, record.SerializeToString(deterministic=True), [], [])


def error_record_from_exception(
    exc: BaseException,
    *,
    kind: int = common_pb2.TASK_ERROR,
    include_native: bool = True,
    max_depth: int = 16,
) -> common_pb2.ErrorRecord:
    """An ErrorRecord of a Python exception: type, message, traceback, cause chain.

    The cause is ``__cause__`` (or the implicit ``__context__``), recursively
    up to ``max_depth``. ``native`` holds the pickled exception when it
    pickles (best effort), so a Python consumer can re-raise the same class.
    """
    t = type(exc)
    rec = common_pb2.ErrorRecord(
        # The stubs type enum fields as their enum class; any valid number is accepted.
        kind=cast(common_pb2.ErrorKind, kind),
        type_name=t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}",
        message=str(exc),
        language=cast(common_pb2.Language, PYTHON),
        traceback="".join(_traceback.format_exception(t, exc, exc.__traceback__, chain=False)),
    )
    if include_native:
        try:
            rec.native = _pickle(exc, DEFAULT_HOOKS, [], [], None, 0)
        except Exception:
            pass  # unpicklable (holds a lock, a socket...): consumers use the fields
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if cause is not None and max_depth > 1:
        rec.cause.CopyFrom(
            error_record_from_exception(
                cause, kind=common_pb2.TASK_ERROR, include_native=include_native,
                max_depth=max_depth - 1,
            )
        )
    return rec


# -- store objects ----------------------------------------------------------------------


def decode_from_store(metadata: Any, data: Any, hooks: CodecHooks = DEFAULT_HOOKS) -> Any:
    """Decode a store object (arrays and Arrow tables are views of ``data``)."""
    fmt, body, buffers = unpack_from(metadata, data)
    return decode(fmt, body, buffers, hooks)
