"""The envelope's constants, value types and codec hooks.

Shared by the codec modules (:mod:`polyray.protocol.xlang_codec`,
:mod:`polyray.protocol.pickling`, :mod:`polyray.protocol.store_layout`);
import them from :mod:`polyray.protocol.envelope`, which re-exports them.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import msgpack

if TYPE_CHECKING:
    import numpy as np

from polyray.protocol import common_pb2

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
_DTYPES: dict[str, np.dtype] = {}  # XLANG_DTYPES as numpy dtypes, filled by _xlang_dtype
_LANG_NAMES = {PYTHON: "Python", JAVA: "Java", CPP: "C++"}
_FORMATS = (FORMAT_XLANG, FORMAT_PYTHON, FORMAT_RAW, FORMAT_ARROW, FORMAT_ERROR)
_ExtType = msgpack.ExtType


def loaded_numpy() -> Any:
    """numpy when this process has imported it, else None.

    numpy is imported lazily (it is a third of a worker's start-up imports):
    a value can hold a numpy array or scalar only once numpy is imported, so
    an encoder that finds it not imported knows the value holds none.
    """
    return sys.modules.get("numpy")


def numpy_module() -> Any:
    """numpy, imported on first use (decoding an XLANG ndarray)."""
    import numpy

    return numpy


def _xlang_dtype(typestr: str) -> np.dtype:
    """The numpy dtype of an XLANG array type string; KeyError for any other string."""
    dtype = _DTYPES.get(typestr)
    if dtype is None:
        if typestr not in XLANG_DTYPES:
            raise KeyError(typestr)
        dtype = _DTYPES[typestr] = numpy_module().dtype(typestr)
    return dtype


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
            # The stubs type enum fields as their enum class; any valid number is accepted.
            format=cast(common_pb2.Format, self.format),
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
            and other.language == self.language
            and other.data == self.data
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


# -- shared internals --------------------------------------------------------------------

# Per-thread codec state: the scalar packer (envelope) and the hooks of the
# unpickling in progress (pickling).
_tls = threading.local()


def _identity(x: Any) -> Any:
    return x


def _is_arrow_table(value: Any) -> bool:
    # By name: importing pyarrow costs a quarter second; only import it when needed.
    t = type(value)
    return t.__name__ == "Table" and t.__module__.startswith("pyarrow")


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
