"""The XLANG envelope format: msgpack with ext types, both directions.

Encoding is driven by :class:`_XlangEncoder` (msgpack's ``default`` hook),
decoding by :func:`_decode_xlang`; :func:`polyray.protocol.envelope.encode`
and :func:`~polyray.protocol.envelope.decode` are the public entry points.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import msgpack

from polyray.protocol import common_pb2
from polyray.protocol.envelope_types import (
    _MAX_DECODE_DEPTH,
    EXT_ACTOR_HANDLE,
    EXT_NATIVE,
    EXT_NDARRAY,
    EXT_OBJECT_REF,
    PYTHON,
    XLANG_DTYPES,
    CodecHooks,
    NativeValue,
    PythonOpaque,
    XlangTypeError,
    _ExtType,
    _is_arrow_table,
    _lang,
    _nbytes,
    _type_name,
    _xlang_dtype,
    loaded_numpy,
    numpy_module,
)
from polyray.protocol.pickling import _pickle, _unpickle

if TYPE_CHECKING:
    import numpy as np

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
        npm = loaded_numpy()  # None: numpy not imported, so obj is no numpy value
        if npm is not None and t is npm.ndarray:
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
        handle = hooks.encode_actor_handle(obj)
        if handle is not None:
            if type(handle) is not common_pb2.ActorHandle:
                raise TypeError(
                    f"encode_actor_handle returned {type(handle).__name__}, not ActorHandle"
                )
            self.handles.append(handle)
            return _ExtType(EXT_ACTOR_HANDLE, handle.SerializeToString(deterministic=True))
        if self.python_target:
            raise _NotLossless
        if npm is not None and isinstance(obj, npm.ndarray):  # a subclass (np.matrix, masked arrays)
            if isinstance(obj, npm.ma.MaskedArray):
                raise _Reject(obj, "numpy masked array", "pass .filled() or the data and mask")
            # msgpack calls default once per object: return the ext, not a plain array.
            return self._ndarray(npm.asarray(obj))
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
            arr = numpy_module().ascontiguousarray(arr)
        nbytes = arr.nbytes
        if nbytes >= self.threshold and nbytes > 0:
            data: Any = len(self.buffers)
            # A 1-D uint8 view: zero copy, and a plain 'B' buffer for the store writer.
            self.buffers.append(arr.reshape(-1).view("u1").data)
        else:
            data = arr.tobytes()
        return _ExtType(EXT_NDARRAY, msgpack.packb([typestr, list(arr.shape), data]))


def _xlang_array(arr: np.ndarray) -> np.ndarray:
    """The C-contiguous little-endian array of ``arr`` for a Java/C++ target, or _Reject."""
    dt = arr.dtype
    if dt.kind in "biuf" and dt.fields is None:
        le = dt.newbyteorder("<") if dt.byteorder == ">" else dt
        if le.str in XLANG_DTYPES:
            return numpy_module().ascontiguousarray(arr, dtype=le)
    raise _Reject(
        arr,
        f"numpy array of dtype {dt}",
        "XLANG arrays hold bool, int8..int64, uint8..uint64, float32 or float64",
    )


def _to_xlang(obj: Any) -> Any:
    """The XLANG stand-in for an object msgpack could not pack (Java/C++ target), or _Reject."""
    npm = loaded_numpy()
    if npm is not None and isinstance(obj, npm.generic):
        if isinstance(obj, npm.bool_):
            return bool(obj)
        if isinstance(obj, npm.integer):
            return int(obj)  # out of 64-bit range cannot happen for numpy ints
        if isinstance(obj, npm.floating) and obj.dtype.itemsize <= 8:
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


# -- decode ---------------------------------------------------------------------------


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
        dtype = _xlang_dtype(typestr)
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
    npm = numpy_module()
    if count == 0:
        arr = npm.empty(shape, dtype)
    else:
        arr = npm.frombuffer(buf, dtype=dtype, count=count).reshape(shape)
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
