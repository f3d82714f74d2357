"""ObjectRef: a reference to an object owned by some process.

Creating an ObjectRef counts a local reference in this process's CoreWorker;
garbage-collecting it drops the count. The owner address travels with the
reference so any process, in any language, can ask the owner for the value.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

from polyray.protocol import common_pb2 as pb

# The process's CoreWorker, set when it starts (None before init / after shutdown).
_core: Any = None


def set_core(core: Any) -> None:
    """Install (or clear) the process-wide CoreWorker that ObjectRefs report to."""
    global _core
    _core = core


def get_core() -> Any:
    """The process-wide CoreWorker, or None."""
    return _core


# What starts polyray on the first API call when it is not initialized (the API
# layer installs ``init``; Ray's auto-init); None: no auto-init.
_auto_init: Any = None


def set_auto_init(fn: Any) -> None:
    """Install the function that initializes polyray on first use (``polyray.init``)."""
    global _auto_init
    _auto_init = fn


def require_core() -> Any:
    """The CoreWorker; when polyray is not initialized, initialize it first as Ray does
    (``polyray.init()`` with no arguments), unless $POLYRAY_ENABLE_AUTO_CONNECT is "0"
    (Ray's RAY_ENABLE_AUTO_CONNECT), which keeps the RuntimeError."""
    core = _core
    if core is not None:
        return core
    import os
    if _auto_init is not None and os.environ.get("POLYRAY_ENABLE_AUTO_CONNECT", "1") != "0":
        _auto_init()
        if _core is not None:
            return _core
    raise RuntimeError("polyray is not initialized: call polyray.init() first")


class ObjectRef:
    """A reference to a value in the cluster; pass it to tasks or ``polyray.get`` it.

    ``await ref`` works in async code.
    """

    __slots__ = ("_id", "_owner", "_core", "__weakref__")

    def __init__(self, object_id: bytes, owner: pb.Address | None = None, *, _counted: bool = True) -> None:
        """Make a reference. `owner` None means this process owns the object."""
        self._id = object_id
        self._owner = owner
        core = _core
        self._core = core if _counted else None
        if self._core is not None:
            self._core.references.add_local(object_id, owner)

    def binary(self) -> bytes:
        """The object id as raw bytes (28)."""
        return self._id

    def hex(self) -> str:
        """The object id in hex."""
        return self._id.hex()

    def owner_address(self) -> pb.Address | None:
        """The owner's address (None when this process is the owner)."""
        return self._owner

    def to_proto(self) -> pb.ObjectRef:
        """The protocol form: id and owner address (this process's when it owns it)."""
        core = self._core or _core
        owner = self._owner if self._owner is not None else (core.address if core else pb.Address())
        return pb.ObjectRef(object_id=self._id, owner=owner)

    def future(self) -> concurrent.futures.Future:
        """A concurrent.futures.Future resolved with the value."""
        core = self._core or _core
        return core.get_future(self)

    def as_future(self) -> concurrent.futures.Future:
        """Ray's name for :meth:`future`: a ``concurrent.futures.Future`` that
        resolves with the value, or with the error ``get()`` would raise."""
        return self.future()

    def __class_getitem__(cls, item: Any) -> Any:
        """``ObjectRef[T]`` in annotations (as Ray's ObjectRef): a generic alias."""
        import types
        return types.GenericAlias(cls, item)

    def __await__(self):
        core = self._core or _core
        return asyncio.wrap_future(core.get_future(self)).__await__()

    def __del__(self) -> None:
        core = self._core
        if core is not None:
            try:
                core.references.remove_local(self._id)
            except Exception:  # interpreter shutdown
                pass

    def __reduce__(self):
        # Plain pickling (outside polyray's codec) keeps id and owner; the
        # receiving process becomes a borrower when it unpickles.
        return (_rebuild, (self.to_proto().SerializeToString(),))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectRef) and other._id == self._id

    def __hash__(self) -> int:
        return hash(self._id)

    def __repr__(self) -> str:
        return f"ObjectRef({self._id.hex()})"


def _rebuild(data: bytes) -> ObjectRef:
    msg = pb.ObjectRef.FromString(data)
    core = _core
    if core is not None:
        return core.ref_from_proto(msg)
    return ObjectRef(msg.object_id, msg.owner, _counted=False)
