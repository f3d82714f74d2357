"""The node's shared store as the raylet manages it.

The raylet creates the segment at start and unlinks it at stop. Owners ask
it to pin primary copies (PinObjects) so they survive eviction: the raylet
holds a store view, hence a pin under its own pid, per pinned object until
FreeObjects. Other nodes read objects in chunks (ReadObject). When a process
of this node dies, its pins are reclaimed and the objects it owned here are
freed (nobody can reference them any more through their owner).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from polyray.protocol import common_pb2, raylet_pb2
from polyray.store import (
    OBJECT_ID_SIZE,
    ObjectNotFoundError,
    ObjectNotSealedError,
    ObjectView,
    SegmentNotFoundError,
    Store,
    StoreStats,
)
from polyray.store.prefault import Prefaulter, prefault_bytes_from_env

log = logging.getLogger(__name__)

#: Chunk size of ReadObject when the caller asks for 0.
DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
#: Largest chunk served: stays well under gRPC's default 4 MiB message limit
#: once the protobuf framing is added.
MAX_CHUNK_SIZE = 4 * 1024 * 1024 - 64 * 1024


@dataclass
class _Pinned:
    view: ObjectView
    owner: common_pb2.Address


class ObjectNotAvailable(Exception):
    """ReadObject of an object not sealed in this store within the timeout."""


class ObjectManager:
    """Creates, pins, frees and serves the objects of this node's store."""

    def __init__(self, store_name: str, capacity: int) -> None:
        self.store_name = store_name
        self.capacity = capacity
        self._store: Store | None = None
        self._pinned: dict[bytes, _Pinned] = {}
        self.prefaulter: Prefaulter | None = None

    @property
    def store(self) -> Store:
        """The open store (RuntimeError before start or after stop)."""
        if self._store is None:
            raise RuntimeError("the object store is not running")
        return self._store

    def start(self) -> None:
        """Create the node's segment; populate its first pages in the background
        ($POLYRAY_STORE_PREFAULT bytes, polyray.store.prefault)."""
        self._store = Store.create(self.store_name, self.capacity)
        try:
            limit = prefault_bytes_from_env()
        except ValueError as e:
            log.warning("store prefault off: %s", e)
            limit = 0
        self.prefaulter = Prefaulter(self._store, limit).start()

    def stop(self) -> None:
        """Drop every pin, close the store and unlink the segment."""
        if self.prefaulter is not None:
            self.prefaulter.stop()
        for pinned in self._pinned.values():
            pinned.view.release()
        self._pinned.clear()
        if self._store is not None:
            self._store.close(drop_pins=True)
            self._store = None
        try:
            Store.unlink(self.store_name)
        except SegmentNotFoundError:
            pass

    # -- pinning -------------------------------------------------------------

    def pin(self, object_ids: list[bytes], owner: common_pb2.Address) -> list[bool]:
        """Pin each sealed object once on behalf of ``owner``; False for one not here."""
        store = self.store
        # One store call (one lock of the segment) for the whole batch: puts
        # send their pins together, and the putters contend for that lock.
        new = list(dict.fromkeys(oid for oid in object_ids if oid not in self._pinned))
        views = store.get(new, timeout=0) if new else []
        for oid, view in zip(new, views):
            if view is not None:
                self._pinned[oid] = _Pinned(view, owner)
        # Pinning is idempotent: one pin per primary copy.
        return [oid in self._pinned for oid in object_ids]

    def free(self, object_ids: list[bytes]) -> None:
        """Release this raylet's pin and delete each object (deferred while
        other processes still view it)."""
        store = self.store
        for oid in object_ids:
            pinned = self._pinned.pop(oid, None)
            if pinned is not None:
                pinned.view.release()
            try:
                store.delete(oid)
            except (ObjectNotFoundError, ObjectNotSealedError):
                # Already gone (evicted, freed twice) or still being written
                # by a creator that will learn nothing pins it.
                pass

    def is_pinned(self, object_id: bytes) -> bool:
        """True while this raylet holds a pin on ``object_id``."""
        return object_id in self._pinned

    @property
    def pinned_count(self) -> int:
        """Objects pinned by this raylet."""
        return len(self._pinned)

    # -- dead processes ------------------------------------------------------

    def reclaim(self, pid: int) -> None:
        """Drop the pins of dead process ``pid`` and abort what it left unsealed."""
        if self._store is None or pid <= 0:
            return
        result = self._store.reclaim(pid)
        if result.pins_dropped or result.objects_aborted:
            log.info(
                "reclaimed pid %d: %d pins dropped, %d unsealed objects aborted",
                pid, result.pins_dropped, result.objects_aborted,
            )

    def free_owned_by(self, worker_id: bytes) -> int:
        """Free the primary copies owned by a dead local worker; how many."""
        if not worker_id or self._store is None:
            return 0
        owned = [oid for oid, p in self._pinned.items() if p.owner.worker_id == worker_id]
        self.free(owned)
        return len(owned)

    # -- transfer -------------------------------------------------------------

    async def read(
        self, object_id: bytes, chunk_size: int, timeout_s: float
    ) -> AsyncIterator[raylet_pb2.ObjectChunk]:
        """Yield the object's data then metadata in chunks of ``chunk_size``.

        Waits up to ``timeout_s`` for the object to be sealed; raises
        ObjectNotAvailable when it is not.
        """
        store = self.store
        chunk = min(chunk_size or DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE)
        if timeout_s > 0:
            # A waiting get blocks in C: keep it off the event loop.
            views = await asyncio.to_thread(store.get, [object_id], timeout_s)
        else:
            views = store.get([object_id], timeout=0)
        view = views[0]
        if view is None:
            raise ObjectNotAvailable(
                f"object {object_id.hex()} is not in the store of this node"
                + (f" (waited {timeout_s:g} s)" if timeout_s > 0 else "")
            )
        parts: tuple[memoryview, ...] = ()
        try:
            total = view.data_size
            meta_size = view.metadata_size
            parts = (view.data, view.metadata)
            offset = 0
            for part in parts:
                for start in range(0, len(part), chunk):
                    piece = bytes(part[start : start + chunk])
                    yield raylet_pb2.ObjectChunk(
                        total_size=total, metadata_size=meta_size, offset=offset, data=piece
                    )
                    offset += len(piece)
            if offset == 0:
                # An empty object still answers with one chunk carrying its sizes.
                yield raylet_pb2.ObjectChunk(total_size=0, metadata_size=0, offset=0)
        finally:
            # The pin lasts as long as any buffer of the view: drop ours first.
            parts = part = ()  # type: ignore[assignment]
            view.release()

    def stats(self) -> StoreStats:
        """The store's counters."""
        return self.store.stats()


def check_object_id(object_id: bytes) -> None:
    """ValueError unless ``object_id`` has the protocol's length."""
    if len(object_id) != OBJECT_ID_SIZE:
        raise ValueError(
            f"object id must be {OBJECT_ID_SIZE} bytes, got {len(object_id)} "
            f"({object_id.hex() or 'empty'})"
        )
