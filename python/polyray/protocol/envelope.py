"""The value envelope codec (DESIGN §4, docs/protocol.md §Values).

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
"""

from __future__ import annotations

import io
import math
import pickle
import struct
import sys
import threading
import traceback as _traceback
import types
from typing import Any, Callable, Iterable, NamedTuple, Sequence

import msgpack
import numpy as np

from polyray.protocol import common_pb2

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

# -- constants ------------------------------------------------------------------------

FORMAT_XLANG: int = common_pb2.FORMAT_XLANG
FORMAT_PYTHON: int = common_pb2.FORMAT_PYTHON
FORMAT_RAW: int = common_pb2.FORMAT_RAW
FORMAT_ARROW: int = common_pb2.FORMAT_ARROW
FORMAT_ERROR: int = common_pb2.FORMAT_ERROR

PYTHON: int = common_pb2.PYTHON
JAVA: int = common_pb2.JAVA
CPP: int = common_pb2.CPP

#: msgpack extension type codes of XLANG (docs/protocol.md §XLANG extension types).
EXT_OBJECT_REF = 1
EXT_ACTOR_HANDLE = 2
EXT_NDARRAY = 3
EXT_NATIVE = 4

#: numpy dtypes (array-interface type strings) that have an XLANG form.
XLANG_DTYPES: frozenset[str] = frozenset(
    ["|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f4", "<f8"]
)

#: Arrays of at least this many bytes go out of band (into ``Encoded.buffers``).
DEFAULT_OOB_THRESHOLD = 64 * 1024
#: A RAW body at least this large decodes as a memoryview over the given memory.
RAW_VIEW_THRESHOLD = 64 * 1024

#: Store object layout (docs/protocol.md §Store object layout).
STORE_MAGIC = b"PRYE"
STORE_VERSION = 1
STORE_ALIGNMENT = 64

# msgpack's C unpacker stack; the protocol promises 512 levels (docs/protocol.md).
_MAX_DECODE_DEPTH = 1023
_I64_MIN = -(1 << 63)
_U64_MAX = (1 << 64) - 1
_DTYPES: dict[str, np.dtype] = {s: np.dtype(s) for s in XLANG_DTYPES}
_LANG_NAMES = {PYTHON: "Python", JAVA: "Java", CPP: "C++"}
_FORMATS = (FORMAT_XLANG, FORMAT_PYTHON, FORMAT_RAW, FORMAT_ARROW, FORMAT_ERROR)
_ExtType = msgpack.ExtType


# -- public value types ------------------------------------------------------------------


class Encoded:
    """An encoded value: what an envelope carries, plus the references found in it.

    ``body`` is bytes for XLANG, PYTHON and ERROR; for RAW and ARROW it may be
    any bytes-like object (a memoryview over the caller's data or an Arrow
    buffer), so large values are not copied before they reach the store.
    ``buffers`` are bytes-like (1-D byte memoryviews over numpy arrays or
    pickle buffers, or bytes). ``nested_refs`` holds what the hooks returned
    for every ObjectRef found inside the value (``common_pb2.ObjectRef``, in
    encounter order: what ``TaskArg.nested_refs`` and
    ``ReturnObject.nested_refs`` carry), ``nested_handles`` the same for
    actor handles (``common_pb2.ActorHandle``). Neither is part of the
    envelope itself.
    """

    __slots__ = ("format", "body", "buffers", "nested_refs", "nested_handles")

    def __init__(
        self,
        format: int,
        body: bytes | memoryview,
        buffers: list | None = None,
        nested_refs: list | None = None,
        nested_handles: list | None = None,
    ) -> None:
        self.format = format
        self.body = body
        self.buffers = [] if buffers is None else buffers
        self.nested_refs = [] if nested_refs is None else nested_refs
        self.nested_handles = [] if nested_handles is None else nested_handles

    @property
    def size(self) -> int:
        """Total bytes of body and buffers (what the value occupies, before store padding)."""
        n = _nbytes(self.body)
        for b in self.buffers:
            n += _nbytes(b)
        return n

    def to_proto(self) -> common_pb2.Envelope:
        """The protobuf Envelope (copies memoryview bodies and buffers into bytes)."""
        body = self.body if type(self.body) is bytes else bytes(self.body)
        return common_pb2.Envelope(
            format=self.format,
            body=body,
            buffers=[b if type(b) is bytes else bytes(b) for b in self.buffers],
        )

    @classmethod
    def from_proto(cls, env: common_pb2.Envelope) -> Encoded:
        """An Encoded over a protobuf Envelope (no nested refs: those travel beside it)."""
        return cls(env.format, env.body, list(env.buffers), [])

    def __repr__(self) -> str:
        name = common_pb2.Format.Name(self.format) if self.format in _FORMATS else self.format
        return (
            f"Encoded({name}, body={_nbytes(self.body)}B, "
            f"buffers={[_nbytes(b) for b in self.buffers]}, nested_refs={len(self.nested_refs)}, "
            f"nested_handles={len(self.nested_handles)})"
        )


class NativeValue:
    """A value native to another language (XLANG ext 4), kept opaque.

    Python cannot decode it; it holds the bytes and re-encodes them byte for
    byte, so a Java object can pass through Python code back to Java.
    """

    __slots__ = ("language", "data")

    def __init__(self, language: int, data: bytes) -> None:
        self.language = int(language)
        self.data = bytes(data)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is NativeValue
            and other.language == self.language  # type: ignore[attr-defined]
            and other.data == self.data  # type: ignore[attr-defined]
        )

    def __hash__(self) -> int:
        return hash((self.language, self.data))

    def __repr__(self) -> str:
        lang = _LANG_NAMES.get(self.language, str(self.language))
        return f"NativeValue({lang}, {len(self.data)} bytes)"


class PythonOpaque:
    """Wraps a Python value to send it opaque through Java or C++ (ext 4, language PYTHON).

    Encoding for a Java/C++ target never pickles silently; wrapping a value in
    ``PythonOpaque`` is the explicit way to let another language hold a
    Python object and hand it back. Any Python receiver decodes it as the
    wrapped value itself (not as the wrapper).
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __reduce__(self) -> tuple[Callable[[Any], Any], tuple[Any]]:
        # Inside a pickle the wrapper disappears, as it does in XLANG.
        return (_identity, (self.value,))

    def __repr__(self) -> str:
        return f"PythonOpaque({self.value!r})"


class XlangTypeError(TypeError):
    """A value (or a part of it) has no XLANG form for a Java or C++ target.

    Attributes: ``path`` (where in the value, e.g. ``argument 'x'[2]['k']``),
    ``type_name`` (the offending type) and ``language`` (the target, a
    ``common_pb2.Language`` value).
    """

    def __init__(self, message: str, *, path: str, type_name: str, language: int) -> None:
        super().__init__(message)
        self.path = path
        self.type_name = type_name
        self.language = language


# -- hooks ----------------------------------------------------------------------------


class CodecHooks:
    """How the codec recognizes and rebuilds ObjectRefs and actor handles.

    The CoreWorker subclasses it. On encode, every object the codec cannot
    encode by itself (in XLANG: anything but the msgpack types, ndarrays and
    NativeValue; in pickle: anything but builtin scalars and containers) is
    offered to ``encode_object_ref`` then ``encode_actor_handle``; a non-None
    answer (the protobuf message) makes it an ext 1/ext 2 value in XLANG, or
    a reduction that calls ``decode_*`` at unpickling in PYTHON, and is
    appended to ``Encoded.nested_refs`` (or ``nested_handles``). The answer must depend on the
    object's type only for None: the codec caches, per encode call, the types
    for which both hooks said None.

    The defaults recognize nothing (a ref then cannot be encoded for a
    Java/C++ target, and is pickled as a plain object for a Python one) and
    decode to the protobuf messages themselves.
    """

    def encode_object_ref(self, obj: Any) -> common_pb2.ObjectRef | None:
        """The protobuf ObjectRef of ``obj`` if it is an ObjectRef, else None."""
        return None

    def encode_actor_handle(self, obj: Any) -> common_pb2.ActorHandle | None:
        """The protobuf ActorHandle of ``obj`` if it is an actor handle, else None."""
        return None

    def decode_object_ref(self, pb: common_pb2.ObjectRef) -> Any:
        """The value that stands for a decoded ObjectRef (the default: the message)."""
        return pb

    def decode_actor_handle(self, pb: common_pb2.ActorHandle) -> Any:
        """The value that stands for a decoded ActorHandle (the default: the message)."""
        return pb


class ProtoHooks(CodecHooks):
    """Hooks for processes without a CoreWorker (tests, tools, the test vectors).

    References are their protobuf messages both ways: a
    ``common_pb2.ObjectRef`` in a value encodes as ext 1, and decodes back
    to the same message.
    """

    def encode_object_ref(self, obj: Any) -> common_pb2.ObjectRef | None:
        """``obj`` itself when it is a ``common_pb2.ObjectRef``."""
        return obj if type(obj) is common_pb2.ObjectRef else None

    def encode_actor_handle(self, obj: Any) -> common_pb2.ActorHandle | None:
        """``obj`` itself when it is a ``common_pb2.ActorHandle``."""
        return obj if type(obj) is common_pb2.ActorHandle else None


#: Recognizes no references; decodes them to protobuf messages.
DEFAULT_HOOKS = CodecHooks()
#: References are protobuf messages both ways.
PROTO_HOOKS = ProtoHooks()


# -- encode ---------------------------------------------------------------------------


class _NotLossless(Exception):
    """Internal: the value has no exact XLANG round trip (Python target -> pickle)."""


class _Reject(Exception):
    """Internal: an object with no XLANG form (Java/C++ target -> XlangTypeError)."""

    def __init__(self, obj: Any, what: str, hint: str) -> None:
        super().__init__(what)
        self.obj = obj
        self.what = what
        self.hint = hint


class _NeedCloudpickle(Exception):
    """Internal: the stdlib pickler met a function or class that must go by value."""


_tls = threading.local()
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
        where = _find_path(value, lambda x: x is r.obj, path) or path
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


class _XlangEncoder:
    """State of one XLANG encode: the msgpack ``default`` hook and what it collects."""

    __slots__ = ("hooks", "python_target", "threshold", "buffers", "refs", "handles")

    def __init__(self, hooks: CodecHooks, python_target: bool, threshold: int) -> None:
        self.hooks = hooks
        self.python_target = python_target
        self.threshold = threshold
        self.buffers: list = []
        self.refs: list = []
        self.handles: list = []

    def default(self, obj: Any) -> Any:
        """msgpack calls this for every object it cannot pack itself."""
        t = type(obj)
        if t is np.ndarray:
            return self._ndarray(obj)
        if t is NativeValue:
            return _ExtType(EXT_NATIVE, msgpack.packb([obj.language, obj.data]))
        if t is PythonOpaque:
            blob = _pickle(obj.value, self.hooks, self.refs, self.handles, None, 0)
            return _ExtType(EXT_NATIVE, msgpack.packb([PYTHON, blob]))
        hooks = self.hooks
        pb = hooks.encode_object_ref(obj)
        if pb is not None:
            if type(pb) is not common_pb2.ObjectRef:
                raise TypeError(f"encode_object_ref returned {type(pb).__name__}, not ObjectRef")
            self.refs.append(pb)
            return _ExtType(EXT_OBJECT_REF, pb.SerializeToString(deterministic=True))
        pb = hooks.encode_actor_handle(obj)
        if pb is not None:
            if type(pb) is not common_pb2.ActorHandle:
                raise TypeError(
                    f"encode_actor_handle returned {type(pb).__name__}, not ActorHandle"
                )
            self.handles.append(pb)
            return _ExtType(EXT_ACTOR_HANDLE, pb.SerializeToString(deterministic=True))
        if self.python_target:
            raise _NotLossless
        if isinstance(obj, np.ndarray):  # a subclass (np.matrix, masked arrays)
            if isinstance(obj, np.ma.MaskedArray):
                raise _Reject(obj, "numpy masked array", "pass .filled() or the data and mask")
            # msgpack calls default once per object: return the ext, not a plain array.
            return self._ndarray(np.asarray(obj))
        return _to_xlang(obj)

    def _ndarray(self, arr: np.ndarray) -> _ExtType:
        typestr = arr.dtype.str
        if typestr not in XLANG_DTYPES:
            if self.python_target:
                raise _NotLossless  # pickle keeps the byte order
            arr = _xlang_array(arr)
            typestr = arr.dtype.str
        elif not arr.flags.c_contiguous:
            if self.python_target and arr.flags.f_contiguous:
                raise _NotLossless  # pickle keeps Fortran order (and stays zero copy)
            # A strided view decodes as a C-contiguous array either way: copy it here
            # so that it can go out of band, which pickle would not do.
            arr = np.ascontiguousarray(arr)
        nbytes = arr.nbytes
        if nbytes >= self.threshold and nbytes > 0:
            data: Any = len(self.buffers)
            # A 1-D uint8 view: zero copy, and a plain 'B' buffer for the store writer.
            self.buffers.append(memoryview(arr.reshape(-1).view(np.uint8)))
        else:
            data = arr.tobytes()
        return _ExtType(EXT_NDARRAY, msgpack.packb([typestr, list(arr.shape), data]))


def _xlang_array(arr: np.ndarray) -> np.ndarray:
    """The C-contiguous little-endian array of ``arr`` for a Java/C++ target, or _Reject."""
    dt = arr.dtype
    if dt.kind in "biuf" and dt.fields is None:
        le = dt.newbyteorder("<") if dt.byteorder == ">" else dt
        if le.str in XLANG_DTYPES:
            return np.ascontiguousarray(arr, dtype=le)
    raise _Reject(
        arr,
        f"numpy array of dtype {dt}",
        "XLANG arrays hold bool, int8..int64, uint8..uint64, float32 or float64",
    )


def _to_xlang(obj: Any) -> Any:
    """The XLANG stand-in for an object msgpack could not pack (Java/C++ target), or _Reject."""
    if isinstance(obj, np.generic):
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, np.integer):
            return int(obj)  # out of 64-bit range cannot happen for numpy ints
        if isinstance(obj, np.floating) and obj.dtype.itemsize <= 8:
            return float(obj)
    if isinstance(obj, int):
        raise _Reject(
            obj,
            "int outside the 64-bit range",
            "XLANG ints are int64 (or uint64); pass it as a str",
        )
    if isinstance(obj, (set, frozenset)):
        raise _Reject(obj, type(obj).__name__, "convert it to a list")
    if _is_arrow_table(obj):
        raise _Reject(
            obj, "pyarrow.Table inside a value", "pass the table as a whole argument (ARROW)"
        )
    raise _Reject(
        obj,
        _type_name(obj),
        "pass its fields as a dict or list, or wrap it in PythonOpaque to hand it back to Python",
    )


def _xlang_error(where: str, obj: Any, what: str, hint: str, target: int) -> XlangTypeError:
    return XlangTypeError(
        f"{where} ({what}) has no XLANG form, so it cannot be passed to "
        f"{_lang(target)}: {hint} (docs/protocol.md §Type mapping)",
        path=where,
        type_name=_type_name(obj),
        language=target,
    )


def _find_path(root: Any, pred: Callable[[Any], bool], path: str) -> str | None:
    """Where in ``root`` the first object satisfying ``pred`` sits (error path only)."""
    stack: list[tuple[Any, str]] = [(root, path)]
    seen: set[int] = set()
    while stack:
        obj, p = stack.pop()
        if pred(obj):
            return p
        if isinstance(obj, (list, tuple, dict)):
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if isinstance(obj, dict):
                items = list(obj.items())
                for k, v in reversed(items):
                    stack.append((v, f"{p}[{k!r}]"))
                for k, _ in reversed(items):
                    stack.append((k, f"{p} key {k!r}"))
            else:
                for i in range(len(obj) - 1, -1, -1):
                    stack.append((obj[i], f"{p}[{i}]"))
    return None


def _bad_str(x: Any) -> bool:
    if not isinstance(x, str):
        return False
    try:
        x.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def encode_raw(data: bytes | bytearray | memoryview) -> Encoded:
    """A RAW envelope of these bytes (not copied: a memoryview body stays a view)."""
    body = data if type(data) is bytes else memoryview(data).cast("B")
    return Encoded(FORMAT_RAW, body, [], [])


def _is_arrow_table(value: Any) -> bool:
    # By name: importing pyarrow costs a quarter second; only import it when needed.
    t = type(value)
    return t.__name__ == "Table" and t.__module__.startswith("pyarrow")


def _encode_arrow(table: Any) -> Encoded:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return Encoded(FORMAT_ARROW, memoryview(sink.getvalue()), [], [])


# -- pickle (PYTHON format) --------------------------------------------------------------


def _reduce_reference(pickler: Any, obj: Any) -> Any:
    """reducer_override body shared by both picklers: refs and handles via the hooks."""
    t = type(obj)
    if t in pickler._codec_plain:
        return NotImplemented
    hooks = pickler._codec_hooks
    pb = hooks.encode_object_ref(obj)
    if pb is not None:
        pickler._codec_refs.append(pb)
        return (_restore_object_ref, (pb.SerializeToString(deterministic=True),))
    pb = hooks.encode_actor_handle(obj)
    if pb is not None:
        pickler._codec_handles.append(pb)
        return (_restore_actor_handle, (pb.SerializeToString(deterministic=True),))
    pickler._codec_plain.add(t)
    return NotImplemented


class _StdPickler(pickle.Pickler):
    """The fast pickler: stdlib C pickle, refs through the hooks, and a bail-out to
    cloudpickle for functions and classes that cannot be pickled by reference."""

    def __init__(
        self, file: io.BytesIO, buffer_callback: Any, hooks: CodecHooks, refs: list, handles: list
    ) -> None:
        super().__init__(file, protocol=5, buffer_callback=buffer_callback)
        self._codec_hooks = hooks
        self._codec_refs = refs
        self._codec_handles = handles
        self._codec_plain: set[type] = {type, types.FunctionType}

    def reducer_override(self, obj: Any) -> Any:
        t = type(obj)
        if t is types.FunctionType or isinstance(obj, type):
            if not _pickles_by_reference(obj):
                raise _NeedCloudpickle
            return NotImplemented
        return _reduce_reference(self, obj)


_cloud_pickler_cls: type | None = None


def _cloud_pickler() -> type:
    """The cloudpickle-based pickler class (built on first use: cloudpickle imports slowly)."""
    global _cloud_pickler_cls
    if _cloud_pickler_cls is None:
        import cloudpickle

        class _CloudPickler(cloudpickle.Pickler):  # type: ignore[misc, name-defined]
            def __init__(self, file, buffer_callback, hooks, refs, handles):  # noqa: ANN001
                super().__init__(file, protocol=5, buffer_callback=buffer_callback)
                self._codec_hooks = hooks
                self._codec_refs = refs
                self._codec_handles = handles
                self._codec_plain = {type, types.FunctionType}

            def reducer_override(self, obj):  # noqa: ANN001, ANN201
                r = _reduce_reference(self, obj)
                if r is NotImplemented:
                    return super().reducer_override(obj)
                return r

        _cloud_pickler_cls = _CloudPickler
    return _cloud_pickler_cls


def _pickles_by_reference(obj: Any) -> bool:
    """True when stdlib pickle's by-name reference to this function/class works in a worker."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return False  # __main__, <locals>, <lambda>: only cloudpickle ships them by value
    mod = sys.modules.get(module)
    if mod is None:
        return False
    for m in _by_value_modules():
        if module == m or module.startswith(m + "."):
            return False
    target: Any = mod
    for part in qualname.split("."):
        target = getattr(target, part, None)
    return target is obj


def _by_value_modules() -> set[str]:
    cp = sys.modules.get("cloudpickle")
    if cp is None:  # nothing can be registered before cloudpickle is imported
        return set()
    return cp.list_registry_pickle_by_value()


def _pickle(
    value: Any,
    hooks: CodecHooks,
    refs: list,
    handles: list,
    buffers: list | None,
    threshold: int,
) -> bytes:
    """Pickle protocol 5; buffers >= threshold go out of band into ``buffers`` (None: in band)."""
    if buffers is None:
        callback = None
    else:

        def callback(pb: pickle.PickleBuffer) -> bool:
            raw = pb.raw()
            if raw.nbytes < threshold or raw.nbytes == 0:
                return True  # in band
            buffers.append(raw)
            return False

    n_refs, n_handles = len(refs), len(handles)
    f = io.BytesIO()
    try:
        _StdPickler(f, callback, hooks, refs, handles).dump(value)
        return f.getvalue()
    except (_NeedCloudpickle, pickle.PicklingError, TypeError, AttributeError):
        pass  # lambdas, closures, __main__ definitions, modules...: cloudpickle
    del refs[n_refs:]
    del handles[n_handles:]
    if buffers is not None:
        buffers.clear()
    f = io.BytesIO()
    try:
        _cloud_pickler()(f, callback, hooks, refs, handles).dump(value)
    except Exception as e:
        raise TypeError(f"cannot serialize a {_type_name(value)}: {e}") from e
    return f.getvalue()


def _restore_object_ref(data: bytes) -> Any:
    """Unpickling callback: an ObjectRef nested in a PYTHON value."""
    hooks = getattr(_tls, "hooks", None) or DEFAULT_HOOKS
    return hooks.decode_object_ref(common_pb2.ObjectRef.FromString(data))


def _restore_actor_handle(data: bytes) -> Any:
    """Unpickling callback: an ActorHandle nested in a PYTHON value."""
    hooks = getattr(_tls, "hooks", None) or DEFAULT_HOOKS
    return hooks.decode_actor_handle(common_pb2.ActorHandle.FromString(data))


def _identity(x: Any) -> Any:
    return x


def _unpickle(body: Any, buffers: Iterable[Any], hooks: CodecHooks) -> Any:
    # The restore callbacks find the hooks here (pickle cannot pass them along).
    prev = getattr(_tls, "hooks", None)
    _tls.hooks = hooks
    try:
        return pickle.loads(body, buffers=buffers)
    finally:
        _tls.hooks = prev


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


def _decode_xlang(body: Any, buffers: Sequence[Any], hooks: CodecHooks) -> Any:
    exts: list = []  # decoded ext values in stream order, reused by a retry

    def ext_hook(code: int, data: bytes) -> Any:
        if code == EXT_NDARRAY:
            v: Any = _decode_ndarray(data, buffers)
        elif code == EXT_OBJECT_REF:
            v = hooks.decode_object_ref(common_pb2.ObjectRef.FromString(data))
        elif code == EXT_ACTOR_HANDLE:
            v = hooks.decode_actor_handle(common_pb2.ActorHandle.FromString(data))
        elif code == EXT_NATIVE:
            v = _decode_native(data, hooks)
        else:
            v = _ExtType(code, data)  # unknown: kept and re-encoded as is
        exts.append(v)
        return v

    try:
        return msgpack.unpackb(body, ext_hook=ext_hook, raw=False, strict_map_key=False)
    except TypeError as e:
        if "unhashable" not in str(e):
            raise
    except msgpack.StackError:
        raise ValueError(
            f"XLANG value nests deeper than {_MAX_DECODE_DEPTH} levels (docs/protocol.md)"
        ) from None
    # A map key that is an array (a tuple key from Python, a List key from Java):
    # decode again with tuple keys, without calling the hooks twice for one ext.
    first = exts[:]
    exts.clear()

    def replay_hook(code: int, data: bytes) -> Any:
        i = len(exts)
        if i < len(first):
            exts.append(first[i])  # exts come in stream order both times
            return first[i]
        return ext_hook(code, data)

    return msgpack.unpackb(
        body,
        ext_hook=replay_hook,
        raw=False,
        strict_map_key=False,
        object_pairs_hook=_dict_with_hashable_keys,
    )


def _dict_with_hashable_keys(pairs: list[tuple[Any, Any]]) -> dict:
    return {_hashable_key(k): v for k, v in pairs}


def _hashable_key(k: Any) -> Any:
    if type(k) is list:
        return tuple(_hashable_key(x) for x in k)
    if type(k) is dict:
        raise ValueError("an XLANG map has a map as a key, which a Python dict cannot hold")
    return k


def _decode_ndarray(data: bytes, buffers: Sequence[Any]) -> np.ndarray:
    try:
        typestr, shape, payload = msgpack.unpackb(data, raw=False)
        dtype = _DTYPES[typestr]
        shape = tuple(shape)
        count = math.prod(shape)
        if any(type(d) is not int or d < 0 for d in shape):
            raise ValueError(f"bad shape {list(shape)}")
    except (ValueError, TypeError, KeyError, msgpack.UnpackException) as e:
        raise ValueError(f"malformed XLANG ndarray (ext 3): {e!r}") from None
    if type(payload) is int:
        if not 0 <= payload < len(buffers):
            raise ValueError(
                f"XLANG ndarray refers to buffer {payload}, the envelope has {len(buffers)}"
            )
        buf = buffers[payload]
    else:
        buf = payload
    nbytes = count * dtype.itemsize
    if _nbytes(buf) != nbytes:
        raise ValueError(
            f"XLANG ndarray {typestr}{list(shape)} needs {nbytes} bytes, its data has {_nbytes(buf)}"
        )
    if count == 0:
        arr = np.empty(shape, dtype)
    else:
        arr = np.frombuffer(buf, dtype=dtype, count=count).reshape(shape)
    arr.flags.writeable = False  # views of store memory must never be written
    return arr


def _decode_native(data: bytes, hooks: CodecHooks) -> Any:
    try:
        language, blob = msgpack.unpackb(data, raw=False)
        if type(language) is not int or type(blob) is not bytes:
            raise TypeError("expected [int, bin]")
    except (ValueError, TypeError, msgpack.UnpackException) as e:
        raise ValueError(f"malformed XLANG native value (ext 4): {e!r}") from None
    if language == PYTHON:
        return _unpickle(blob, (), hooks)
    return NativeValue(language, blob)


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
        kind=kind,
        type_name=t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}",
        message=str(exc),
        language=PYTHON,
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


def decode_from_store(metadata: Any, data: Any, hooks: CodecHooks = DEFAULT_HOOKS) -> Any:
    """Decode a store object (arrays and Arrow tables are views of ``data``)."""
    fmt, body, buffers = unpack_from(metadata, data)
    return decode(fmt, body, buffers, hooks)


# -- helpers --------------------------------------------------------------------------


def _nbytes(b: Any) -> int:
    if type(b) is bytes:
        return len(b)
    if type(b) is memoryview:
        return b.nbytes
    return memoryview(b).nbytes


def _byte_view(b: Any) -> memoryview:
    mv = b if type(b) is memoryview else memoryview(b)
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    return mv


def _type_name(obj: Any) -> str:
    t = type(obj)
    if t.__module__ == "builtins":
        return t.__qualname__
    return f"{t.__module__}.{t.__qualname__}"


def _lang(language: int) -> str:
    return _LANG_NAMES.get(language, f"language {language}")
