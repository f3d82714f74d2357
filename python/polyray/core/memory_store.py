"""In-process store of object values known to this process.

Invariants: an entry, once ready, never changes (objects are immutable); a
ready entry holds exactly one of an inline envelope, the node id of the shared
store that holds the value, or an error record. Waiters are woken exactly once
per entry, from any thread.

A blocking wait registers one counting waiter (the ids it still needs) and
sleeps until enough of them are set (or its timeout), so completing an
object only wakes the threads waiting for that object, and a wait costs one
pass over its ids per wake-up rather than one per completed object.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from polyray.protocol import common_pb2 as pb

# A blocked wait wakes at least this often to look again (it never relies on
# a single notification alone).
_WAKE_S = 1.0


class _Waiter:
    """A thread blocked until ``need`` more of the ids in ``interest`` are ready."""

    __slots__ = ("need", "interest", "lock", "abort_on_error")

    def __init__(self, need: int, interest: set[bytes], abort_on_error: bool = False) -> None:
        self.need = need
        self.interest = interest
        self.abort_on_error = abort_on_error
        self.lock = threading.Lock()
        self.lock.acquire()


class Entry:
    """One object's state as this process knows it.

    Lean (issue 14, Deliver 6): ``nested`` and the callbacks are None until
    an object has refs inside it or someone waits on it."""

    __slots__ = ("ready", "envelope", "in_store_node", "error", "size", "_callbacks", "nested")

    def __init__(self) -> None:
        self.ready = False
        self.envelope: pb.Envelope | None = None
        self.in_store_node: bytes = b""
        self.error: pb.ErrorRecord | None = None
        self.size = 0
        self.nested: list | None = None
        self._callbacks: list[Callable[[Entry], None]] | None = None

    @property
    def is_error(self) -> bool:
        """Ready with an error: a system error or a task's exception (an ERROR envelope)."""
        return self.error is not None or (self.envelope is not None and self.envelope.format == pb.FORMAT_ERROR)


class MemoryStore:
    """Object id (bytes) -> Entry, with blocking and callback waits."""

    def __init__(self) -> None:
        # Reentrant: the garbage collector can run inside a locked section and
        # finalize an ObjectRef, whose release deletes an entry on this thread.
        self._lock = threading.RLock()
        self._entries: dict[bytes, Entry] = {}
        self._waiters: list[_Waiter] = []

    def _entry(self, oid: bytes) -> Entry:
        e = self._entries.get(oid)
        if e is None:
            e = self._entries[oid] = Entry()
        return e

    def set(self, oid: bytes, *, envelope: pb.Envelope | None = None, in_store_node: bytes = b"",
            error: pb.ErrorRecord | None = None, size: int = 0, nested: list | None = None) -> bool:
        """Make an object ready; returns False when it already was (first writer wins)."""
        with self._lock:
            e = self._entries.get(oid)
            if e is None:
                e = self._entries[oid] = Entry()
            elif e.ready:
                return False
            e.envelope, e.in_store_node, e.error, e.size = envelope, in_store_node, error, size
            if nested:
                e.nested = nested
            e.ready = True
            callbacks = e._callbacks
            if callbacks:
                e._callbacks = None
            for w in self._waiters:
                if oid in w.interest and w.need > 0:
                    # A get() stops at the first error it sees (as Ray's does).
                    w.need = 0 if w.abort_on_error and e.is_error else w.need - 1
                    if w.need == 0:
                        w.lock.release()
        for cb in callbacks or ():
            cb(e)
        return True

    @property
    def has_waiters(self) -> bool:
        """Whether a thread is blocked in wait_indices now."""
        return bool(self._waiters)

    def get_if_ready(self, oid: bytes) -> Entry | None:
        """The entry when ready, else None (no waiting)."""
        e = self._entries.get(oid)
        return e if e is not None and e.ready else None

    def contains(self, oid: bytes) -> bool:
        return oid in self._entries

    def wait(self, oids: list[bytes], num_ready: int, timeout: float | None) -> list[bytes]:
        """Block until num_ready of oids are ready or the timeout passes.

        Returns the ready ones in the order of ``oids``: the first
        ``num_ready`` of them, or all that are ready when the timeout passed.
        """
        return [oids[i] for i in self.wait_indices(oids, num_ready, timeout)]

    def wait_indices(self, oids: list[bytes], num_ready: int, timeout: float | None,
                     abort_on_error: bool = False) -> list[int]:
        """As :meth:`wait`, but the positions in ``oids`` of the ready ids.

        ``abort_on_error``: return as soon as one of them is ready with an
        error (the ready ones so far), as get() needs.
        """
        if num_ready <= 0:
            return []
        deadline = None if timeout is None else time.monotonic() + timeout
        entries = self._entries
        while True:
            with self._lock:
                ready: list[int] = []
                pending: list[bytes] = []
                for i, o in enumerate(oids):
                    e = entries.get(o)
                    if e is not None and e.ready:
                        ready.append(i)
                        if len(ready) >= num_ready or (abort_on_error and e.is_error):
                            return ready
                    else:
                        pending.append(o)
                if deadline is None:
                    left = _WAKE_S
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return ready
                    left = min(left, _WAKE_S)
                waiter = _Waiter(num_ready - len(ready), set(pending), abort_on_error)
                self._waiters.append(waiter)
            try:
                waiter.lock.acquire(True, left)
            finally:
                with self._lock:
                    self._waiters.remove(waiter)

    def on_ready(self, oid: bytes, callback: Callable[[Entry], None]) -> None:
        """Call callback(entry) once the object is ready (now, if it is)."""
        with self._lock:
            e = self._entry(oid)
            if not e.ready:
                if e._callbacks is None:
                    e._callbacks = []
                e._callbacks.append(callback)
                return
        callback(e)

    def future(self, oid: bytes, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Entry]:
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
