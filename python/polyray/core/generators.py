"""Generator tasks: the caller's side of ``num_returns="streaming"`` / ``"dynamic"`` (Ray's
ObjectRefGenerator).

The worker runs the generator and sends each yielded item, as it is produced, as
a TaskResult with ``generator_item = k`` (1-based) on the task's own result
stream, before the task's final result: items arrive in order and all before
the end. Item k is a return object owned by the caller, id = return id of index
k + 1 (index 1 is the end of the stream: the item count, or the generator's
error). The submitters hand each item to :meth:`GeneratorStreams.on_item`
(on the io loop), which records it as an owned object held by the stream; the
consumer takes the refs in order.

Retries (Ray's streaming generator retries): a generator task whose worker dies
runs again when its ``max_retries`` (actor methods: ``max_task_retries``, once
the actor restarts) allows, and yields its items again from the first. Items
are deterministic by index (their ids are), so the stream keeps what it has:
an item ``k`` at or below the count already received is a duplicate and is
dropped (its store copy, if on another node, is recorded as one more copy of
the object, or freed when the object is already gone). Every item reaches the
consumer once, in order; without retries left the stream ends, after the
items received, with the worker's crash as its error.

Invariants: an item is held by its stream until the consumer takes it (then the
consumer's ObjectRef holds it); a stream dropped by its consumer lets go of the
items it holds and frees those that arrive later; a "dynamic" stream lives as
long as its end object (the generator is the end object's value).
"""

from __future__ import annotations

import threading
from typing import Any

from polyray.core.memory_store import MemoryStore
from polyray.core.object_ref import ObjectRef
from polyray.core.owned_objects import OwnedObjects, return_id
from polyray.core.reference_counter import ReferenceCounter
from polyray.protocol import common_pb2 as pb

#: TaskSpec.generator values.
DYNAMIC = 1
STREAMING = 2


def item_id(task_id: bytes, k: int) -> bytes:
    """The object id of a generator task's item ``k`` (0-based)."""
    return return_id(task_id, k + 2)


class _Stream:
    __slots__ = ("task_id", "items", "dynamic", "dropped", "received")

    def __init__(self, task_id: bytes, dynamic: bool) -> None:
        self.task_id = task_id
        self.items: dict[int, ObjectRef] = {}
        self.dynamic = dynamic
        self.dropped = False
        #: Items received so far (by any attempt): a retry's items up to it are duplicates.
        self.received = 0


class GeneratorStreams:
    """The generator tasks this process called: the items they reported so far."""

    def __init__(self, *, references: ReferenceCounter, owned: OwnedObjects, memory_store: MemoryStore,
                 worker_id: bytes) -> None:
        self._references = references
        self._owned = owned
        self._memory_store = memory_store
        self._worker_id = worker_id
        self._lock = threading.Lock()
        self._streams: dict[bytes, _Stream] = {}
        self._dynamic_ends: dict[bytes, bytes] = {}  # end object id -> task id

    def open(self, task_id: bytes, dynamic: bool) -> _Stream:
        """(Before the task is submitted.) Start keeping the items of ``task_id``."""
        stream = _Stream(task_id, dynamic)
        with self._lock:
            self._streams[task_id] = stream
            if dynamic:
                self._dynamic_ends[return_id(task_id, 1)] = task_id
        return stream

    def on_item(self, spec: pb.TaskSpec, item: pb.ReturnObject, k: int) -> None:
        """(On the loop.) Item ``k`` (1-based) of a generator task arrived."""
        with self._lock:
            stream = self._streams.get(spec.task_id)
        oid = item.object_id
        if stream is None or stream.dropped or oid != item_id(spec.task_id, k - 1):
            # Nobody will read it: free its copy, release what it holds.
            if item.HasField("in_store_node") and item.in_store_node:
                self._owned.queue_free(oid, [item.in_store_node])
            if item.nested_refs:
                self._references.ack_returned(list(item.nested_refs), self._worker_id, item.lender)
            return
        with self._lock:
            duplicate = k <= stream.received
            stream.received = max(stream.received, k)
        if duplicate:
            self._on_duplicate(item)
            return
        self._references.add_owned(oid)
        ref = ObjectRef(oid, None)
        with self._lock:
            stream.items[k - 1] = ref
        self._owned.record_return(item)

    def _on_duplicate(self, item: pb.ReturnObject) -> None:
        """An item a retried attempt yielded again: the one received first stays."""
        oid = item.object_id
        if item.HasField("in_store_node") and item.in_store_node:
            if self._owned.is_owned(oid):
                self._owned.add_location(oid, item.in_store_node)  # freed with the object
            else:
                self._owned.queue_free(oid, [item.in_store_node])
        if item.nested_refs:
            self._references.ack_returned(list(item.nested_refs), self._worker_id, item.lender)

    def take(self, stream: _Stream, k: int) -> ObjectRef | None:
        """The ref of item ``k`` (0-based) once it arrived, handed over to the consumer."""
        with self._lock:
            if stream.dynamic:
                ref = stream.items.get(k)
                return ObjectRef(ref.binary(), None) if ref is not None else None
            return stream.items.pop(k, None)

    def drop(self, stream: _Stream) -> None:
        """The consumer is gone: let go of the items held and of those still to come."""
        with self._lock:
            stream.dropped = True
            stream.items.clear()
            if self._streams.get(stream.task_id) is stream:
                del self._streams[stream.task_id]

    def dynamic_refs(self, task_id: bytes, count: int) -> list[ObjectRef] | None:
        """The ``count`` item refs of a finished "dynamic" task called here (None: not called here)."""
        with self._lock:
            stream = self._streams.get(task_id)
        if stream is None or not stream.dynamic:
            return None
        refs = [self.take(stream, k) for k in range(count)]
        return [r for r in refs if r is not None]

    def on_free(self, oid: bytes) -> None:
        """An owned object was freed: the end of a "dynamic" task frees its items."""
        if not self._dynamic_ends:
            return
        with self._lock:
            task_id = self._dynamic_ends.pop(oid, None)
            stream = self._streams.pop(task_id, None) if task_id is not None else None
        if stream is not None:
            stream.dropped = True
            stream.items.clear()


class ObjectRefGenerator:
    """The refs a generator task yields, in order, as it yields them (Ray's ObjectRefGenerator).

    ``next(gen)`` blocks until the next item arrives and returns its ObjectRef;
    StopIteration after the last. An exception in the generator comes at its
    place in the stream: ``next()`` returns a ref whose ``get()`` raises it, and
    the stream ends there. Dropping the generator releases the items not taken.
    """

    def __init__(self, streams: GeneratorStreams | None, stream: _Stream | None, end: ObjectRef | None,
                 memory_store: MemoryStore, get: Any, fixed: list[ObjectRef] | None = None) -> None:
        self._streams = streams
        self._stream = stream
        self._end = end
        self._memory_store = memory_store
        self._get = get
        self._next = 0
        self._finished = False
        self._fixed = fixed

    def __iter__(self) -> ObjectRefGenerator:
        return self

    def __next__(self) -> ObjectRef:
        if self._fixed is not None:
            if self._next >= len(self._fixed):
                raise StopIteration
            self._next += 1
            return self._fixed[self._next - 1]
        if self._finished or self._end is None:
            raise StopIteration
        k = self._next
        streams, stream = self._streams, self._stream
        assert streams is not None and stream is not None
        item = item_id(stream.task_id, k)
        end = self._end.binary()
        while True:
            self._memory_store.wait_indices([item, end], 1, None)
            ref = streams.take(stream, k)
            if ref is not None:
                self._next += 1
                return ref
            entry = self._memory_store.get_if_ready(end)
            if entry is None:
                continue
            if entry.is_error:
                self._finished = True
                return self._end  # its get() raises the generator's error, at its place
            count = self._get([self._end], None)[0]
            if k < count:
                continue  # reported before the end: recorded in a moment
            self._finished = True
            raise StopIteration

    def completed(self) -> ObjectRef | None:
        """The ref of the stream's end: ready once the generator finished (its value: the item count)."""
        return self._end

    def __len__(self) -> int:
        if self._fixed is not None:
            return len(self._fixed)
        raise TypeError("a streaming ObjectRefGenerator has no length until it ends")

    def __reduce__(self):
        if self._fixed is not None:
            return (ObjectRefGenerator._of_refs, (list(self._fixed),))
        raise TypeError("a streaming ObjectRefGenerator cannot be passed to other processes")

    @staticmethod
    def _of_refs(refs: list[ObjectRef]) -> ObjectRefGenerator:
        gen = ObjectRefGenerator.__new__(ObjectRefGenerator)
        gen._fixed = refs
        gen._next = 0
        gen._stream = None
        gen._end = None
        gen._streams = None
        gen._finished = True
        return gen

    def __del__(self) -> None:
        streams, stream = getattr(self, "_streams", None), getattr(self, "_stream", None)
        if streams is not None and stream is not None and not stream.dynamic:
            try:
                streams.drop(stream)
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass


class DynamicReturn:
    """What a "dynamic" generator task returns (its end object's value): decoded
    in the caller as an ObjectRefGenerator of the items the task reported."""

    def __init__(self, task_id: bytes, count: int, owner: bytes) -> None:
        self.task_id = task_id
        self.count = count
        self.owner = owner

    def __reduce__(self):
        return (_rebuild_dynamic, (self.task_id, self.count, self.owner))


def _rebuild_dynamic(task_id: bytes, count: int, owner: bytes) -> ObjectRefGenerator:
    from polyray.core.object_ref import get_core
    core = get_core()
    refs = None
    if core is not None:
        refs = core.generators.dynamic_refs(task_id, count)
        if refs is None:
            # Decoded in another process: the items are borrowed from the caller that owns them.
            address = pb.Address.FromString(owner)
            refs = [core.ref_from_proto(pb.ObjectRef(object_id=item_id(task_id, k), owner=address))
                    for k in range(count)]
    return ObjectRefGenerator._of_refs(refs or [])
