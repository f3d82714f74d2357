"""The lineage an owner keeps: the TaskSpecs that can recompute its stored objects.

When a normal task completes and one of its returns lives in a node's store
(larger than the inline limit), the owner keeps the task's spec -- its
*lineage* -- for as long as any of those returns is still referenced, so a
copy lost with its node can be recomputed by running the task again
(ObjectRecovery). The task's arguments stay counted as "submitted" while its
lineage is kept (they may have to be recomputed too, recursively) and are
released when it goes.

Memory is bounded: the specs kept (their encoded size) stay under
``max_bytes`` (runtime spec ``[lineage] max_bytes``; POLYRAY_LINEAGE_MAX_BYTES,
``polyray.init(_lineage_max_bytes=...)``). Past it the oldest lineage is
evicted first; its objects are remembered as evicted (an object id each, until
they are freed), so a later loss raises ObjectLostError(REASON_LINEAGE_EVICTED).

Concurrent reconstructions of one task are merged: ``begin_recovery`` says
yes once per task until ``end_recovery`` (the task completed or failed).

Invariants: every argument pin taken by ``record`` is released exactly once
(by eviction, by the last return's free, or at once when the task already had
lineage); ``bytes_used`` is the sum of the kept entries' sizes and never
exceeds the bound after ``record`` returns. Thread-safe (frees come from any
thread); the release callback runs outside the lock.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

from polyray.protocol import common_pb2 as pb
from polyray.protocol import runtime_spec

#: The environment variable that overrides the bound for one process.
ENV_MAX_BYTES = "POLYRAY_LINEAGE_MAX_BYTES"


def max_bytes_from_env(default: int | None = None) -> int:
    """The lineage bound of this process: the environment's, else ``default``, else the spec's."""
    raw = os.environ.get(ENV_MAX_BYTES, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{ENV_MAX_BYTES}={raw!r} is not a whole number of bytes") from None
        if value < 0:
            raise ValueError(f"{ENV_MAX_BYTES}={raw!r} must be >= 0")
        return value
    return runtime_spec.LINEAGE_MAX_BYTES if default is None else default


def is_put_id(oid: bytes) -> bool:
    """Whether an object id names a ``put`` (bit 31 of its little-endian index)."""
    return len(oid) == 28 and bool(oid[27] & 0x80)


class LineageEntry:
    """The spec of a task whose stored returns are still referenced."""

    __slots__ = ("spec", "arg_ids", "size", "live")

    def __init__(self, spec: pb.TaskSpec, arg_ids: list[bytes], size: int, live: set[bytes]) -> None:
        self.spec = spec
        self.arg_ids = arg_ids
        self.size = size
        self.live = live


class LineageTable:
    """Task id -> LineageEntry, oldest first, under a byte bound."""

    def __init__(self, max_bytes: int, release_args: Callable[[list[bytes]], None]) -> None:
        self.max_bytes = max_bytes
        self._release_args = release_args
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, LineageEntry] = OrderedDict()
        self._by_object: dict[bytes, bytes] = {}   # live return id -> task id
        self._evicted: set[bytes] = set()           # return ids whose lineage was evicted
        self._recovering: set[bytes] = set()
        self.bytes_used = 0
        self.evictions = 0

    def record(self, spec: pb.TaskSpec, arg_ids: list[bytes], stored_returns: Iterable[bytes]) -> None:
        """Keep ``spec`` (taking over the pins of ``arg_ids``) for the returns in ``stored_returns``.

        A task that already has lineage (a reconstruction completing) keeps
        its first entry's pins: the new ``arg_ids`` pins are released."""
        release: list[list[bytes]] = []
        tid = spec.task_id
        with self._lock:
            old = self._entries.get(tid)
            if old is not None:
                old.spec = spec
                release.append(arg_ids)
            else:
                live = set(stored_returns)
                size = spec.ByteSize() + 28 * (len(arg_ids) + len(live))
                entry = LineageEntry(spec, arg_ids, size, live)
                self._entries[tid] = entry
                for oid in live:
                    self._by_object[oid] = tid
                    self._evicted.discard(oid)
                self.bytes_used += size
                while self.bytes_used > self.max_bytes and self._entries:
                    _, victim = self._entries.popitem(last=False)
                    self.bytes_used -= victim.size
                    self.evictions += 1
                    for oid in victim.live:
                        self._by_object.pop(oid, None)
                        self._evicted.add(oid)
                    release.append(victim.arg_ids)
        for ids in release:
            if ids:
                self._release_args(ids)

    def on_free(self, oid: bytes) -> None:
        """An owned object was freed: drop the lineage once none of its task's stored returns is left."""
        release: list[bytes] | None = None
        with self._lock:
            self._evicted.discard(oid)
            tid = self._by_object.pop(oid, None)
            if tid is None:
                return
            entry = self._entries.get(tid)
            if entry is None:
                return
            entry.live.discard(oid)
            if not entry.live:
                del self._entries[tid]
                self.bytes_used -= entry.size
                release = entry.arg_ids
        if release:
            self._release_args(release)

    def get(self, task_id: bytes) -> LineageEntry | None:
        """The lineage of a task, if kept."""
        with self._lock:
            return self._entries.get(task_id)

    def of_object(self, oid: bytes) -> LineageEntry | None:
        """The lineage of the task that returns ``oid``, if kept and ``oid`` is still live."""
        with self._lock:
            tid = self._by_object.get(oid)
            return None if tid is None else self._entries.get(tid)

    def was_evicted(self, oid: bytes) -> bool:
        """Whether ``oid``'s lineage was evicted to keep the bound (and ``oid`` is not freed yet)."""
        with self._lock:
            return oid in self._evicted

    def begin_recovery(self, task_id: bytes) -> bool:
        """True if no reconstruction of ``task_id`` is under way (and one now is)."""
        with self._lock:
            if task_id in self._recovering:
                return False
            self._recovering.add(task_id)
            return True

    def end_recovery(self, task_id: bytes) -> bool:
        """The reconstruction of ``task_id`` completed or failed; whether one was under way."""
        with self._lock:
            if task_id in self._recovering:
                self._recovering.discard(task_id)
                return True
            return False

    def recovering(self, task_id: bytes) -> bool:
        with self._lock:
            return task_id in self._recovering

    def __len__(self) -> int:
        return len(self._entries)
