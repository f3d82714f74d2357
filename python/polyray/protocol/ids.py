"""Typed, immutable IDs over raw bytes (docs/protocol.md §IDs).

Sizes are fixed by the protocol (proto/polyray/protocol/common.proto):

======================  =====  ==========================================
class                   bytes  layout
======================  =====  ==========================================
``JobID``                   4  little-endian uint32 counter (GCS-assigned)
``ActorID``                16  12 unique bytes + JobID
``TaskID``                 24  20 unique bytes + JobID
``ObjectID``               28  TaskID + little-endian uint32 index
``NodeID``                 28  unique
``WorkerID``               28  unique
``PlacementGroupID``       18  14 unique bytes + JobID
======================  =====  ==========================================

The nil ID of every class is all ``0xff`` bytes (as in Ray), so that a zero
job counter or a zero index stays a valid, non-nil value.

IDs sit on the hot path (every task, every ref), so they are slotted,
compare by exact class and bytes, and hash like their bytes (which CPython
caches on the bytes object).
"""

from __future__ import annotations

import os
import struct
from typing import ClassVar, TypeVar

__all__ = [
    "BaseID",
    "JobID",
    "ActorID",
    "TaskID",
    "ObjectID",
    "NodeID",
    "WorkerID",
    "PlacementGroupID",
    "PUT_INDEX_FLAG",
    "MAX_RETURN_INDEX",
]

#: Bit set in the index of an object created by ``put`` (vs a task return).
PUT_INDEX_FLAG = 0x80000000
#: Largest valid return index (and largest put counter): indexes use 31 bits.
MAX_RETURN_INDEX = 0x7FFFFFFF

_U32 = struct.Struct("<I")
_T = TypeVar("_T", bound="BaseID")


class BaseID:
    """An immutable ID of ``SIZE`` raw bytes. Subclasses fix ``SIZE``.

    Construct with ``Cls(binary)`` or ``Cls.from_binary(binary)``; both
    check the length. Equality requires the same class and bytes, so a
    NodeID never equals a WorkerID with the same bytes.
    """

    __slots__ = ("_b",)
    SIZE: ClassVar[int] = 0
    _b: bytes  # the slot, set once by _set_b (__setattr__ refuses)

    def __init__(self, binary: bytes) -> None:
        if type(binary) is not bytes:
            if not isinstance(binary, (bytes, bytearray, memoryview)):
                # bytes(28) would silently make 28 zero bytes.
                raise TypeError(
                    f"{type(self).__name__} takes bytes, got {type(binary).__name__}"
                )
            # A bytearray/memoryview would make the ID mutable or unhashable.
            binary = bytes(binary)
        if len(binary) != self.SIZE:
            raise ValueError(
                f"{type(self).__name__} must be {self.SIZE} bytes, got {len(binary)}"
            )
        _set_b(self, binary)

    # -- construction -------------------------------------------------------------

    @classmethod
    def from_binary(cls: type[_T], binary: bytes) -> _T:
        """The ID of these bytes; ValueError (naming class, expected and actual length) otherwise."""
        return cls(binary)

    @classmethod
    def from_hex(cls: type[_T], hex_str: str) -> _T:
        """The ID of a hex string as produced by :meth:`hex`."""
        try:
            binary = bytes.fromhex(hex_str)
        except ValueError as e:
            raise ValueError(f"{cls.__name__}.from_hex: not a hex string: {hex_str!r}") from e
        return cls(binary)

    @classmethod
    def maybe_from_binary(cls: type[_T], binary: bytes) -> _T | None:
        """None for empty bytes (an unset proto field), else :meth:`from_binary`."""
        return cls(binary) if binary else None

    @classmethod
    def from_random(cls: type[_T]) -> _T:
        """A random ID (job-scoped classes get a random job part: prefer their ``of``/``for_job``)."""
        return cls(os.urandom(cls.SIZE))

    @classmethod
    def nil(cls: type[_T]) -> _T:
        """The nil ID: all bytes 0xff."""
        return cls(b"\xff" * cls.SIZE)

    # -- access -------------------------------------------------------------------

    def binary(self) -> bytes:
        """The raw bytes (what goes on the wire)."""
        return self._b

    def hex(self) -> str:
        """Lower-case hex of the bytes (what logs and errors show)."""
        return self._b.hex()

    def is_nil(self) -> bool:
        """True for the nil ID (all 0xff)."""
        return self._b == b"\xff" * self.SIZE

    def __bytes__(self) -> bytes:
        return self._b

    def __len__(self) -> int:
        return self.SIZE

    # -- value semantics ----------------------------------------------------------

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __hash__(self) -> int:
        return hash(self._b)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._b == self._b

    def __lt__(self, other: BaseID) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._b < other._b

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._b.hex()})"

    def __reduce__(self) -> tuple[type, tuple[bytes]]:
        # Slots + a blocking __setattr__ defeat the default pickling.
        return (type(self), (self._b,))

    def __copy__(self: _T) -> _T:
        return self

    def __deepcopy__(self: _T, memo: dict) -> _T:
        return self


# Writes the slot directly: bypasses the blocking __setattr__ at the cost of
# one descriptor call (cheaper than object.__setattr__).
_set_b = BaseID.__dict__["_b"].__set__


def _new(cls: type[_T], binary: bytes) -> _T:
    """Build an ID from bytes already known to be of the right size (internal, no checks)."""
    obj = object.__new__(cls)
    _set_b(obj, binary)
    return obj


class JobID(BaseID):
    """A job: 4 bytes, a little-endian uint32 the GCS assigns (``from_int``)."""

    __slots__ = ()
    SIZE: ClassVar[int] = 4

    @classmethod
    def from_int(cls, value: int) -> JobID:
        """The JobID of counter ``value`` (0 <= value < 2**32, little-endian)."""
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"JobID.from_int: {value} is not in [0, 2**32)")
        return _new(cls, _U32.pack(value))

    def to_int(self) -> int:
        """The counter value (inverse of :meth:`from_int`)."""
        return _U32.unpack(self._b)[0]


class _JobScopedID(BaseID):
    """An ID whose last 4 bytes are its JobID."""

    __slots__ = ()
    UNIQUE_SIZE: ClassVar[int] = 0

    @classmethod
    def _random_for(cls: type[_T], job_id: JobID) -> _T:
        if type(job_id) is not JobID:
            raise TypeError(f"{cls.__name__} needs a JobID, got {type(job_id).__name__}")
        return _new(cls, os.urandom(cls.SIZE - JobID.SIZE) + job_id._b)

    def job_id(self) -> JobID:
        """The job this ID belongs to (its last 4 bytes)."""
        return _new(JobID, self._b[-JobID.SIZE :])


class ActorID(_JobScopedID):
    """An actor: 12 unique bytes + JobID (16 bytes)."""

    __slots__ = ()
    SIZE: ClassVar[int] = 16

    @classmethod
    def of(cls, job_id: JobID) -> ActorID:
        """A new random ActorID in ``job_id``."""
        return cls._random_for(job_id)


class TaskID(_JobScopedID):
    """A task: 20 unique bytes + JobID (24 bytes)."""

    __slots__ = ()
    SIZE: ClassVar[int] = 24

    @classmethod
    def for_job(cls, job_id: JobID) -> TaskID:
        """A new random TaskID in ``job_id``."""
        return cls._random_for(job_id)


class PlacementGroupID(_JobScopedID):
    """A placement group: 14 unique bytes + JobID (18 bytes)."""

    __slots__ = ()
    SIZE: ClassVar[int] = 18

    @classmethod
    def of(cls, job_id: JobID) -> PlacementGroupID:
        """A new random PlacementGroupID in ``job_id``."""
        return cls._random_for(job_id)


class ObjectID(BaseID):
    """An object: the TaskID that created it + little-endian uint32 index (28 bytes).

    Index ``i`` in 1..2**31-1 is the task's i-th return; ``0x80000000 | n``
    is the n-th ``put`` made while running that task (or by the driver,
    whose TaskID is its driver task). Index 0 is never used.
    """

    __slots__ = ()
    SIZE: ClassVar[int] = 28

    @classmethod
    def for_return(cls, task_id: TaskID, index: int) -> ObjectID:
        """The ID of return ``index`` (from 1) of ``task_id``: computable by any language."""
        if not 1 <= index <= MAX_RETURN_INDEX:
            raise ValueError(f"ObjectID.for_return: index {index} is not in [1, 2**31)")
        return _new(cls, task_id._b + _U32.pack(index))

    @classmethod
    def for_put(cls, task_id: TaskID, put_index: int) -> ObjectID:
        """The ID of the ``put_index``-th (from 1) object put by ``task_id``."""
        if not 1 <= put_index <= MAX_RETURN_INDEX:
            raise ValueError(f"ObjectID.for_put: put index {put_index} is not in [1, 2**31)")
        return _new(cls, task_id._b + _U32.pack(PUT_INDEX_FLAG | put_index))

    def task_id(self) -> TaskID:
        """The task that created the object."""
        return _new(TaskID, self._b[: TaskID.SIZE])

    def index(self) -> int:
        """The raw uint32 index (put objects have bit 31 set)."""
        return _U32.unpack_from(self._b, TaskID.SIZE)[0]

    def is_put(self) -> bool:
        """True when the object was created by ``put`` rather than returned by a task."""
        return bool(self._b[-1] & 0x80)

    def job_id(self) -> JobID:
        """The job of the creating task."""
        return _new(JobID, self._b[TaskID.SIZE - JobID.SIZE : TaskID.SIZE])


class NodeID(BaseID):
    """A node (its raylet): 28 random bytes."""

    __slots__ = ()
    SIZE: ClassVar[int] = 28


class WorkerID(BaseID):
    """A worker or driver process: 28 random bytes."""

    __slots__ = ()
    SIZE: ClassVar[int] = 28
