"""The raylet's pins of objects this process wrote into the node's store, sent in batches.

A put (or a stored task return) writes and seals its object, takes a store
pin of its own on it (an ObjectView) and hands the id to StorePins; the put
returns at once. On the io loop the queued ids go to the raylet in
PinObjects calls of at most ``max_ids_per_pin`` ids (one owner per call), at
most ``max_pins_in_flight`` calls open at once: ids queued while calls are
open go out together in the next one. The process's own pin is released
only once the raylet has answered, so the object cannot be evicted between
seal and the raylet's pin.

Why this is safe while the pin is in flight: the object is sealed before it
is queued, so another process's get, a task that takes the ref, or a pull
from another node reads it from the store at once. A free that reaches the
raylet before the pin deletes the object (deferred while this process's pin
holds it); the raylet's later pin then finds no object (the store hides
objects whose delete is pending) and answers False, and our release
completes the delete. A free decided while the id is still queued here
(``forget``) drops it from the queue: no pin is sent.

Invariants: every queued view is released exactly once (answer, failure,
forget or close); at most ``max_unpinned`` objects wait for their pin (a
putter blocks, bounded, beyond that); ids of one call share one owner.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from polyray.protocol import common_pb2 as pb
from polyray.protocol import raylet_pb2 as rl
from polyray.protocol import runtime_spec as spec

log = logging.getLogger(__name__)

#: How long a putter waits for room when max_unpinned objects wait for pins.
ROOM_WAIT_S = 60.0

PinCall = Callable[[list[bytes], pb.Address], Awaitable[rl.PinObjectsReply]]


class _Pending:
    __slots__ = ("oid", "view", "owner", "done", "dropped")

    def __init__(self, oid: bytes, view: Any, owner: pb.Address,
                 done: concurrent.futures.Future | None) -> None:
        self.oid = oid
        self.view = view
        self.owner = owner
        self.done = done
        self.dropped = False


class StorePins:
    """Queues pins of stored objects and sends them to the raylet in batches."""

    def __init__(self, *, call_soon: Callable[..., None], pin: PinCall,
                 max_in_flight: int = spec.FANOUT_MAX_PINS_IN_FLIGHT,
                 max_ids: int = spec.FANOUT_MAX_IDS_PER_PIN,
                 max_unpinned: int | None = None) -> None:
        self._call_soon = call_soon
        self._pin = pin
        self._max_in_flight = max_in_flight
        self._max_ids = max_ids
        self._room = threading.Semaphore(max_unpinned or max_in_flight * max_ids)
        # Handed over by putters; the loop takes them when woken, or when a
        # call's answer comes (then no wake-up is needed: a put while a pin
        # call is open costs no system call).
        self._lock = threading.Lock()
        self._incoming: list[_Pending] = []
        self._wake_pending = False
        self._in_flight = 0  # changed on the loop, under the lock
        # Loop-only state.
        self._queue: collections.deque[_Pending] = collections.deque()
        self._queued: dict[bytes, _Pending] = {}
        self.calls_sent = 0
        self._closed = False

    # -- any thread -------------------------------------------------------------------
    def add(self, oid: bytes, view: Any, owner: pb.Address, *,
            want_done: bool = False) -> concurrent.futures.Future | None:
        """Queue the raylet's pin of sealed ``oid``; ``view`` (our pin) is released once it answers.

        With ``want_done``, returns a future set to whether the raylet pinned it
        (its exception when the call failed).
        """
        if not self._room.acquire(timeout=ROOM_WAIT_S):
            view.release()
            raise TimeoutError(f"{self._max_in_flight * self._max_ids} stored objects have waited "
                               f"{ROOM_WAIT_S:.0f} s for the raylet to pin them")
        done: concurrent.futures.Future | None = concurrent.futures.Future() if want_done else None
        item = _Pending(oid, view, owner, done)
        with self._lock:
            self._incoming.append(item)
            if self._wake_pending or (self._in_flight and not want_done):
                return done  # the loop takes it at its wake-up or at the next answer
            self._wake_pending = True
        self._call_soon(self._take)
        return done

    # -- the loop ---------------------------------------------------------------------
    def _take(self, pump: bool = True) -> None:
        with self._lock:
            self._wake_pending = False
            incoming, self._incoming = self._incoming, []
        if self._closed:
            for item in incoming:
                self._finish(item, False)
            return
        for item in incoming:
            self._queue.append(item)
            self._queued[item.oid] = item
        if pump:
            self._pump()

    def forget(self, oid: bytes) -> None:
        """``oid`` was freed: if its pin has not gone out yet, it never will (on the loop)."""
        self._take(pump=False)  # a put handed over just before its free
        item = self._queued.pop(oid, None)
        if item is not None:
            item.dropped = True
        self._pump()

    @property
    def waiting(self) -> int:
        """Objects handed over, queued or in flight (approximate off the loop)."""
        return len(self._incoming) + len(self._queue) + self._in_flight

    def _pump(self) -> None:
        queue = self._queue
        while queue and self._in_flight < self._max_in_flight:
            owner = queue[0].owner
            batch: list[_Pending] = []
            rest: list[_Pending] = []
            while queue and len(batch) < self._max_ids:
                item = queue.popleft()
                if item.dropped:
                    self._finish(item, False)
                elif item.owner is owner or item.owner.worker_id == owner.worker_id:
                    self._queued.pop(item.oid, None)
                    batch.append(item)
                else:
                    rest.append(item)
            queue.extendleft(reversed(rest))
            if not batch:
                continue
            with self._lock:
                self._in_flight += 1
            self.calls_sent += 1
            asyncio.ensure_future(self._send(owner, batch))

    async def _send(self, owner: pb.Address, batch: list[_Pending]) -> None:
        pinned: list[bool] = []
        error: BaseException | None = None
        try:
            reply = await self._pin([p.oid for p in batch], owner)
            pinned = list(reply.pinned)
        except Exception as e:  # noqa: BLE001 - the raylet is gone or slow: the objects go unpinned
            log.warning("PinObjects of %d stored objects failed: %s", len(batch), e)
            error = e
        finally:
            with self._lock:
                self._in_flight -= 1
            for i, item in enumerate(batch):
                self._finish(item, pinned[i] if i < len(pinned) else False, error)
            self._take()

    def _finish(self, item: _Pending, ok: bool, error: BaseException | None = None) -> None:
        view, item.view = item.view, None
        if view is not None:
            view.release()
            self._room.release()
        if item.done is not None and not item.done.done():
            if error is not None:
                item.done.set_exception(error)  # the call failed (raylet gone, deadline)
            else:
                item.done.set_result(ok)

    def close(self) -> None:
        """Release every queued object's pin (shutdown; on the loop or with it stopped)."""
        self._closed = True
        with self._lock:
            incoming, self._incoming = self._incoming, []
        for item in incoming:
            self._finish(item, False)
        while self._queue:
            self._finish(self._queue.popleft(), False)
        self._queued.clear()
