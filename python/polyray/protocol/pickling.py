"""The PYTHON envelope format: pickle protocol 5, references through the hooks.

The stdlib C pickler runs first; functions and classes that cannot be pickled
by reference (lambdas, closures, ``__main__`` definitions) make it bail out to
cloudpickle. ObjectRefs and actor handles are recorded through the
:class:`~polyray.protocol.envelope.CodecHooks` and rebuilt by them when
unpickled.
"""

from __future__ import annotations

import io
import pickle
import sys
import types
from collections.abc import Iterable
from typing import Any

from polyray.protocol import common_pb2
from polyray.protocol.envelope_types import DEFAULT_HOOKS, CodecHooks, _tls, _type_name


class _NeedCloudpickle(Exception):
    """Internal: the stdlib pickler met a function or class that must go by value."""


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

        class _CloudPickler(cloudpickle.Pickler):
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


def _unpickle(body: Any, buffers: Iterable[Any], hooks: CodecHooks) -> Any:
    # The restore callbacks find the hooks here (pickle cannot pass them along).
    prev = getattr(_tls, "hooks", None)
    _tls.hooks = hooks
    try:
        return pickle.loads(body, buffers=buffers)
    finally:
        _tls.hooks = prev
