"""In-process store of object values known to this process.

Invariants: an entry, once ready, never changes (objects are immutable); a
ready entry holds exactly one of an inline envelope, the node id of the shared
store that holds the value, or an error record. Waiters are woken exactly once
per entry, from any thread.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Callable, Optional

from polyray.protocol import common_pb2 as pb


class Entry:
    """One object's state as this process knows it."""

    __slots__ = ("ready", "envelope", "in_store_node", "error", "size", "_callbacks", "nested")

    def __init__(self) -> None:
        self.ready = False
        self.envelope: Optional[pb.Envelope] = None
        self.in_store_node: bytes = b""
        self.error: Optional[pb.ErrorRecord] = None
        self.size = 0
        self.nested: list = []
        self._callbacks: list[Callable[["Entry"], None]] = []


class MemoryStore:
    """Object id (bytes) -> Entry, with blocking and callback waits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._entries: dict[bytes, Entry] = {}

    def _entry(self, oid: bytes) -> Entry:
        e = self._entries.get(oid)
        if e is None:
            e = self._entries[oid] = Entry()
        return e

    def set(self, oid: bytes, *, envelope: Optional[pb.Envelope] = None, in_store_node: bytes = b"",
            error: Optional[pb.ErrorRecord] = None, size: int = 0, nested: Optional[list] = None) -> bool:
        """Make an object ready; returns False when it already was (first writer wins)."""
        with self._lock:
            e = self._entry(oid)
            if e.ready:
                return False
            e.envelope, e.in_store_node, e.error, e.size = envelope, in_store_node, error, size
            e.nested = nested or []
            e.ready = True
            callbacks, e._callbacks = e._callbacks, []
            self._cond.notify_all()
        for cb in callbacks:
            cb(e)
        return True

    def get_if_ready(self, oid: bytes) -> Optional[Entry]:
        """The entry when ready, else None (no waiting)."""
        e = self._entries.get(oid)
        return e if e is not None and e.ready else None

    def contains(self, oid: bytes) -> bool:
        return oid in self._entries

    def wait(self, oids: list[bytes], num_ready: int, timeout: Optional[float]) -> list[bytes]:
        """Block until num_ready of oids are ready or the timeout passes; returns the ready ones."""
        import time
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                ready = [o for o in oids if (e := self._entries.get(o)) is not None and e.ready]
                if len(ready) >= num_ready:
                    return ready
                if deadline is None:
                    self._cond.wait(1.0)
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return ready
                    self._cond.wait(min(left, 1.0))

    def on_ready(self, oid: bytes, callback: Callable[[Entry], None]) -> None:
        """Call callback(entry) once the object is ready (now, if it is)."""
        with self._lock:
            e = self._entry(oid)
            if not e.ready:
                e._callbacks.append(callback)
                return
        callback(e)

    def future(self, oid: bytes, loop: asyncio.AbstractEventLoop) -> "asyncio.Future[Entry]":
        """An asyncio future (on `loop`) resolved with the entry when ready."""
        fut: asyncio.Future = loop.create_future()

        def done(e: Entry) -> None:
            def resolve() -> None:
                if not fut.done():
                    fut.set_result(e)
            loop.call_soon_threadsafe(resolve)

        self.on_ready(oid, done)
        return fut

    def delete(self, oid: bytes) -> None:
        with self._lock:
            e = self._entries.get(oid)
            if e is not None and (e.ready or not e._callbacks):
                del self._entries[oid]

    def __len__(self) -> int:
        return len(self._entries)
